"""How many SQL statements a complete login costs koppel (issue 5 §9): a guard against regressions.

A repeat login of a known user is the common case; its statements are counted per endpoint
(authorize, callback, token) as the database driver sees them (SQLite: BEGIN IMMEDIATE too).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.simulator.support import PASSWORD, USER_UPN
from tests.sso.conftest import Setup
from tests.sso.flows import Browser, HostApp, entra_login

# Per endpoint, on a repeat login (user known, groups seen, key and client cached). Before the
# speed work (bench/sso/README.md): 5 + 17 + 10. The authorization request's reads and its one
# INSERT, and the callback's consumption of the state, commit statement by statement (no BEGIN);
# the callback completes the login in one transaction, after the call to the IdP. SQLite counts
# its BEGIN IMMEDIATE; PostgreSQL instead takes the event log's advisory lock in the callback.
BUDGET = {"/oauth2/authorize": 3, "/sso/callback": 8, "/oauth2/token": 4}


class CountingClient:
    """A TestClient wrapper that attributes the SQL statements run during each call to its path."""

    def __init__(self, client: TestClient, statements: list[str]) -> None:
        self.client, self.statements = client, statements
        self.per_path: Counter[str] = Counter()
        self.log: dict[str, list[str]] = {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        before = len(self.statements)
        response = self.client.request(method, url, **kwargs)
        path = urlsplit(url).path
        key = "/sso/callback" if path.startswith("/sso/callback/") else path
        self.per_path[key] += len(self.statements) - before
        self.log.setdefault(key, []).extend(self.statements[before:])
        return response

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@contextmanager
def recorded(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split("\n", 1)[0][:120])

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def login(koppel: Any, idp: httpx.Client, host: HostApp) -> httpx.Response:
    fresh = HostApp(host.client_id, host.client_secret, host.redirect_uri)
    landed = Browser(koppel, idp, entra_login(USER_UPN, PASSWORD)).go(fresh.authorize_url(organization="contoso"))
    response: httpx.Response = fresh.redeem(koppel, fresh.code_from(landed))
    return response


def test_repeat_login_stays_within_the_statement_budget(
    koppel: TestClient, sso_app: FastAPI, idp_http: httpx.Client, platform: Setup
) -> None:
    assert login(koppel, idp_http, platform.host).status_code == 200  # first login: JIT user, groups seen
    with recorded(sso_app.state.engine) as statements:
        counting = CountingClient(koppel, statements)
        response = login(counting, idp_http, platform.host)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    report = {path: counting.log[path] for path in BUDGET}
    for path, budget in BUDGET.items():
        assert counting.per_path[path] <= budget, json.dumps({path: report[path]}, indent=1)

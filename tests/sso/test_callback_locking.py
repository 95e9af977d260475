"""The callback holds no database transaction while it waits for the IdP (issue 5 §9: on SQLite a
transaction holds the one write lock, so every other login would wait for the IdP too)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from koppel.db.engine import make_engine
from koppel.sso.upstream.fetcher import UpstreamFetcher
from tests.simulator.support import PASSWORD, USER_UPN
from tests.sso.conftest import Setup
from tests.sso.flows import sign_in


def impatient_engine(engine: Engine) -> Engine:
    """A second engine on the same database that gives up on a lock after half a second."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "sqlite":
        return make_engine(url, connect_args={"options": "-c lock_timeout=500"})
    impatient = make_engine(url)

    def short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:  # after koppel's own pragmas
        dbapi_conn.execute("PRAGMA busy_timeout=500")

    event.listen(impatient, "connect", short_busy_timeout)
    return impatient


def test_others_can_write_while_the_callback_waits_for_the_idp(
    koppel: TestClient, sso_app: FastAPI, idp_http: httpx.Client, platform: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = impatient_engine(sso_app.state.engine)
    writes: list[int] = []
    original = UpstreamFetcher.token_request

    def token_request(self: UpstreamFetcher, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with other.begin() as conn:  # the row the callback just consumed, and a write lock on SQLite
            writes.append(conn.execute(text("UPDATE sso_login_transactions SET used_at = used_at")).rowcount)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(UpstreamFetcher, "token_request", token_request)
    try:
        tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    finally:
        other.dispose()
    assert tokens.status_code == 200, tokens.text[:300]
    assert writes == [1]

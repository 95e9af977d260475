"""Concurrent PATCHes of one user lose nothing (row lock); concurrent renames stay unique (connection lock)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI

from koppel.scim.handler import ScimRequest, handle
from tests.scim.conftest import PATCH, Tenant


def patcher(app: FastAPI, tenant: Tenant):  # type: ignore[no-untyped-def]
    state = app.state

    def patch(user_id: str, *ops: dict[str, object]) -> int:
        body = json.dumps({"schemas": [PATCH], "Operations": list(ops)}).encode()
        req = ScimRequest("PATCH", tenant.slug, ["Users", user_id], {}, tenant.token, body)
        return handle(state.session_factory, state.settings, state.clock, req).status

    return patch


def test_parallel_patches_of_one_user_keep_every_change(app: FastAPI, tenant: Tenant) -> None:
    user = tenant.create_user("ann@x.com")["id"]
    patch = patcher(app, tenant)

    def add_email(i: int) -> int:
        return patch(user, {"op": "add", "path": "emails", "value": [{"value": f"a{i}@x.com", "type": f"t{i}"}]})

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(add_email, range(16)))
    assert statuses == [200] * 16
    emails = {e["value"] for e in tenant.get(f"/Users/{user}").json()["emails"]}
    assert emails == {f"a{i}@x.com" for i in range(16)}


def test_parallel_renames_to_one_name_let_one_win(app: FastAPI, tenant: Tenant) -> None:
    users = [tenant.create_user(f"u{i}@x.com")["id"] for i in range(6)]
    patch = patcher(app, tenant)
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda u: patch(u, {"op": "replace", "path": "userName", "value": "b@x.com"}), users))
    assert sorted(statuses) == [200] + [409] * 5
    r = tenant.get('/Users?filter=userName eq "b@x.com"')
    assert r.json()["totalResults"] == 1

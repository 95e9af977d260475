"""Concurrent PATCHes to one group lose no member (each request is its own transaction, as in the server)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI

from koppel.scim.handler import ScimRequest, handle
from tests.scim.conftest import PATCH, Tenant


def test_parallel_member_adds_and_creates(app: FastAPI, tenant: Tenant) -> None:
    users = [tenant.create_user(f"m{i}@x.com")["id"] for i in range(24)]
    group = tenant.create_group("Everyone")["id"]
    state = app.state

    def call(method: str, segments: list[str], body: object) -> int:
        req = ScimRequest(method, tenant.slug, segments, {}, tenant.token, json.dumps(body).encode())
        return handle(state.session_factory, state.settings, state.clock, req).status

    def add(batch: list[str]) -> int:
        op = {"op": "Add", "path": "members", "value": [{"value": u} for u in batch]}
        return call("PATCH", ["Groups", group], {"schemas": [PATCH], "Operations": [op]})

    def create(i: int) -> int:
        return call("POST", ["Users"], {"userName": f"same{i % 3}@x.com"})

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(add, [users[i : i + 2] for i in range(0, 24, 2)]))
        created = list(pool.map(create, range(12)))
    assert statuses == [204] * 12
    members = tenant.get(f"/Groups/{group}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted(users)
    # the uniqueness check is atomic: exactly one of each userName was created
    assert sorted(created).count(201) == 3 and sorted(created).count(409) == 9

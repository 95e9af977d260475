"""Requests that arrive together share one transaction, and each still gets the answer it would get alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from koppel.events.models import Event
from koppel.scim import handler, resources
from koppel.scim.coalesce import Coalescer
from koppel.scim.errors import ScimError
from koppel.scim.handler import Outcome, ScimRequest, handle_batch
from koppel.scim.models import ScimLogEntry
from tests.conftest import Clock
from tests.scim.conftest import PATCH, USER, Tenant


def _req(tenant: Tenant, method: str, path: str, body: Any = None, **params: str) -> ScimRequest:
    raw = json.dumps(body).encode() if body is not None else b""
    return ScimRequest(method, tenant.slug, [s for s in path.split("/") if s], params, tenant.token, raw)


def _user(name: str) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "active": True}


@pytest.fixture
def commits(engine: Engine) -> Iterator[list[int]]:
    seen: list[int] = []
    listener = lambda _conn: seen.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    yield seen
    event.remove(engine, "commit", listener)


def _run(app: FastAPI, clock: Clock, reqs: list[ScimRequest]) -> list[Outcome]:
    def ticking() -> Any:  # every request of the batch at its own time, as when they arrive
        return clock.advance(milliseconds=1)

    return handle_batch(app.state.session_factory, app.state.settings, ticking, reqs)


def _log(factory: sessionmaker[Session], org_id: str) -> list[tuple[str, int, str | None]]:
    with factory() as session:
        rows = session.execute(
            select(ScimLogEntry.operation, ScimLogEntry.status, ScimLogEntry.scim_type)
            .where(ScimLogEntry.org_id == org_id)
            .order_by(ScimLogEntry.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _events(factory: sessionmaker[Session], org_id: str) -> list[Event]:
    with factory() as session:
        return list(session.scalars(select(Event).where(Event.org_id == org_id).order_by(Event.id)))


def test_a_batch_answers_each_request_as_in_sequence_with_one_commit(
    app: FastAPI, tenant: Tenant, clock: Clock, commits: list[int]
) -> None:
    group = tenant.create_group("Sales")["id"]
    factory = app.state.session_factory
    log_before, events_before = len(_log(factory, tenant.org_id)), len(_events(factory, tenant.org_id))
    commits.clear()
    reqs = [
        _req(tenant, "POST", "Users", _user("ann@x.com")),
        _req(tenant, "GET", "Users", filter='userName eq "ANN@x.com"'),  # sees the create before it
        _req(tenant, "POST", "Users", _user("ann@x.com")),  # 409: the first one is taken
        _req(tenant, "GET", "Users/no-such-id"),
        _req(tenant, "POST", "Users", {"userName": 42}),  # 400
        _req(tenant, "POST", "Users", _user("bob@x.com")),
    ]
    out = _run(app, clock, reqs)
    assert [o.status for o in out] == [201, 200, 409, 404, 400, 201]
    assert commits == [1]  # one transaction for the six
    assert out[1].body is not None and [r["id"] for r in out[1].body["Resources"]] == [out[0].resource_id]
    assert out[2].scim_type == "uniqueness" and out[4].scim_type == "invalidValue"

    ann, bob = out[0].resource_id, out[5].resource_id
    add = {"op": "add", "path": "members", "value": [{"value": ann}, {"value": bob}]}
    out = _run(app, clock, [_req(tenant, "PATCH", f"Groups/{group}", {"schemas": [PATCH], "Operations": [add]})] * 2)
    assert [o.status for o in out] == [204, 204]
    members = tenant.get(f"/Groups/{group}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted([ann, bob])

    log = _log(factory, tenant.org_id)[log_before:]
    assert [(op, status) for op, status, _ in log[:6]] == [
        ("create User", 201),
        ("query Users", 200),
        ("create User", 409),
        ("get User", 404),
        ("create User", 400),
        ("create User", 201),
    ]
    assert log[2][2] == "uniqueness"
    events = _events(factory, tenant.org_id)[events_before:]
    created = [e for e in events if e.type == "user.created"]
    assert [e.data["user"]["user_name"] for e in created] == ["ann@x.com", "bob@x.com"]
    assert created[1].occurred_at - created[0].occurred_at == timedelta(milliseconds=5)  # each its own time
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_reads_alone_are_a_batch_without_a_transaction(app: FastAPI, tenant: Tenant, clock: Clock) -> None:
    tenant.create_user("cy@x.com")
    out = _run(app, clock, [_req(tenant, "GET", "Users", filter=f'userName eq "{n}"') for n in ("cy@x.com", "dee")])
    assert [o.body["totalResults"] for o in out if o.body] == [1, 0]
    assert [s for _, s, _ in _log(app.state.session_factory, tenant.org_id)[-2:]] == [200, 200]


def test_a_request_that_fails_after_writing_sends_the_batch_one_by_one(
    app: FastAPI, tenant: Tenant, clock: Clock, commits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    render = resources.render_user

    def failing_render(ctx: Any, ext_id: str, doc: dict[str, Any], *a: Any) -> dict[str, Any]:
        if doc["userName"] == "bad@x.com":  # after apply_changes has written the user
            raise ScimError("refused after the write", status=400, scim_type="invalidValue")
        return render(ctx, ext_id, doc, *a)

    monkeypatch.setattr(resources, "render_user", failing_render)
    factory = app.state.session_factory
    log_before, events_before = len(_log(factory, tenant.org_id)), len(_events(factory, tenant.org_id))
    commits.clear()
    names = ["one@x.com", "bad@x.com", "two@x.com"]
    out = _run(app, clock, [_req(tenant, "POST", "Users", _user(n)) for n in names])
    assert [o.status for o in out] == [201, 400, 201]
    assert len(commits) == 3  # the batch rolled back; the two good ones alone, and the failure's log entry
    for name, total in zip(names, [1, 0, 1], strict=True):
        assert tenant.get("/Users", params={"filter": f'userName eq "{name}"'}).json()["totalResults"] == total
    assert [s for _, s, _ in _log(factory, tenant.org_id)[log_before:]][:3] == [201, 400, 201]
    created = [e.data["user"]["user_name"] for e in _events(factory, tenant.org_id)[events_before:]]
    assert created == ["one@x.com", "two@x.com"]  # nothing of the rolled-back attempt


def test_a_defect_in_one_request_fails_only_that_request(
    app: FastAPI, tenant: Tenant, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = tenant.create_user("ok@x.com")["id"]
    get_user = resources.get_user

    def broken(*, user_id: str, **kw: Any) -> dict[str, Any]:
        if user_id == "boom":
            raise RuntimeError("a defect")
        return get_user(user_id=user_id, **kw)

    monkeypatch.setattr(resources, "get_user", broken)
    out = _run(app, clock, [_req(tenant, "GET", f"Users/{ok}"), _req(tenant, "GET", "Users/boom")])
    assert [o.status for o in out] == [200, 500]
    assert out[1].body is not None and "koppel's log" in out[1].body["detail"]


def test_two_batches_at_once_lose_no_member(app: FastAPI, tenant: Tenant, clock: Clock) -> None:
    """Two processes' batches on one group and the same userNames: every member lands, each name once."""
    users = [tenant.create_user(f"m{i}@x.com")["id"] for i in range(16)]
    group = tenant.create_group("All")["id"]
    state = app.state

    def batch(part: list[str]) -> list[int]:
        reqs = [
            _req(tenant, "PATCH", f"Groups/{group}", {"schemas": [PATCH], "Operations": [op]})
            for op in ({"op": "add", "path": "members", "value": [{"value": u}]} for u in part)
        ] + [_req(tenant, "POST", "Users", _user(f"same{i}@x.com")) for i in range(3)]
        return [o.status for o in handle_batch(state.session_factory, state.settings, clock, reqs)]

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(batch, [users[:8], users[8:][::-1]]))
    assert [r[:8] for r in results] == [[204] * 8, [204] * 8]
    assert sorted(results[0][8:] + results[1][8:]) == [201] * 3 + [409] * 3
    members = tenant.get(f"/Groups/{group}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted(users)


def test_concurrent_http_requests_are_handled_together(
    app: FastAPI, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real = handler.handle_batch

    def counting(factory: Any, settings: Any, clock: Any, reqs: list[ScimRequest]) -> list[Outcome]:
        sizes.append(len(reqs))
        return real(factory, settings, clock, reqs)

    monkeypatch.setattr("koppel.scim.routes.handle_batch", counting)

    async def calls() -> tuple[list[int], httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://koppel") as client:
            headers = tenant.headers()
            posts = [client.post(f"{tenant.base}/Users", json=_user(f"p{i}@x.com"), headers=headers) for i in range(8)]
            statuses = [r.status_code for r in await asyncio.gather(*posts)]
            query = {"filter": 'userName eq "p1@x.com"'}
            return statuses, await client.get(f"{tenant.base}/Users", params=query, headers=headers)

    statuses, alone = asyncio.run(calls())
    assert statuses == [201] * 8 and alone.json()["totalResults"] == 1
    assert sum(sizes) == 9 and max(sizes) > 1 and sizes[-1] == 1


def test_coalescer_batches_what_arrives_in_one_turn() -> None:
    runs: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        runs.append(items)
        return [i * 10 for i in items]

    async def submits() -> tuple[list[int], int]:
        batches: Coalescer[int, int] = Coalescer(run, max_batch=3)
        together = await asyncio.gather(*(batches.submit(i) for i in range(5)))
        return together, await batches.submit(7)

    assert asyncio.run(submits()) == ([0, 10, 20, 30, 40], 70)
    assert runs == [[0, 1, 2], [3, 4], [7]]  # a lone request: at once, alone


def test_coalescer_fails_the_batch_not_the_loop() -> None:
    def run(items: list[int]) -> list[int]:
        raise ValueError("defect")

    async def submits() -> list[Any]:
        batches: Coalescer[int, int] = Coalescer(run)
        return await asyncio.gather(batches.submit(1), batches.submit(2), return_exceptions=True)

    assert [type(r) for r in asyncio.run(submits())] == [ValueError, ValueError]


class _Echo:
    """A batch runner that answers each item with itself and remembers the batches."""

    def __init__(self) -> None:
        self.runs: list[list[Any]] = []

    def __call__(self, items: list[Any]) -> list[Any]:
        self.runs.append(items)
        return items


def test_coalescer_under_load_waits_for_the_writes_that_were_just_answered() -> None:
    run = _Echo()

    async def submits() -> None:
        # an hour of linger: a batch that waited for its timer would never finish within the test's timeout
        batches: Coalescer[str, str] = Coalescer(run, worth_waiting=lambda i: i.startswith("w"), linger=3600)
        await asyncio.wait_for(batches.submit("w-alone"), 5)  # a lone write: at once
        await asyncio.wait_for(asyncio.gather(*(batches.submit(f"w{i}") for i in range(3))), 5)
        first = batches.submit("w-a")  # the last batch had 3: wait for 3
        await asyncio.sleep(0.01)
        assert not first.done()
        await asyncio.wait_for(asyncio.gather(first, batches.submit("read-b"), batches.submit("w-c")), 5)
        await asyncio.wait_for(batches.submit("read"), 5)  # a read is never held back

    asyncio.run(submits())
    assert run.runs == [["w-alone"], ["w0", "w1", "w2"], ["w-a", "read-b", "w-c"], ["read"]]


def test_coalescer_stops_waiting_after_linger() -> None:
    run = _Echo()

    async def submits() -> None:
        batches: Coalescer[int, int] = Coalescer(run, linger=0.02)
        await asyncio.gather(*(batches.submit(i) for i in range(4)))
        await asyncio.wait_for(batches.submit(9), 5)  # waits 20 ms for three more that never come

    asyncio.run(submits())
    assert run.runs == [[0, 1, 2, 3], [9]]

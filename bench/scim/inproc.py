"""SCIM cost per request in-process (no sockets, no harness): for profiling koppel's own code.

    .venv/bin/python bench/scim/inproc.py sqlite:////tmp/k.db [--users 1000] [--pg-pid PID] [--profile out.prof]

Recreates the database (``setup_koppel.py``), then drives the ASGI app directly, one request at a time
(or ``--concurrency`` at once: what arrives together is handled together, ``koppel.scim.coalesce``),
with the users phase of ``../shared/bench/scim_load.py`` (filter miss + POST /Users), one member-batch
PATCH per 25 users, then attribute-update PATCHes and disable PATCHes. Prints CPU ms per request of this
process and, with ``--pg-pid`` (the postmaster), of PostgreSQL's backends.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("KOPPEL_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("KOPPEL_LOG_LEVEL", "WARNING")

import contextlib

import setup_koppel

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user_payload(i: int) -> dict[str, Any]:
    name = f"user.{i:06d}@contoso.example"
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": f"ext-{i}",
        "userName": name,
        "active": True,
        "displayName": f"User {i}",
        "name": {"formatted": f"User {i}", "familyName": "User", "givenName": str(i)},
        "emails": [{"primary": True, "type": "work", "value": name}],
        "title": "Engineer",
        ENTERPRISE: {"department": "Engineering"},
        "meta": {"resourceType": "User"},
        "roles": [],
    }


class Driver:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        target, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": target,
            "raw_path": target.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"authorization", b"Bearer bench-token"),
                (b"content-type", b"application/scim+json"),
                (b"content-length", str(len(raw)).encode()),
            ],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8120),
            "state": {},
        }
        sent = False
        out: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))

        await self.app(scope, receive, send)
        data = b"".join(out)
        return status, json.loads(data) if data else None


def cpu_of(pid: int | None) -> float:
    if pid is None:
        return 0.0
    proc = psutil.Process(pid)
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return total


CONCURRENCY = 1


async def phase(name: str, n: int, step: Callable[[int], Any], pg_pid: int | None, per: int = 1) -> None:
    own0, pg0, t0 = time.process_time(), cpu_of(pg_pid), time.perf_counter()
    for start in range(0, n, CONCURRENCY):
        await asyncio.gather(*(step(i) for i in range(start, min(n, start + CONCURRENCY))))
    own, pg, wall = time.process_time() - own0, cpu_of(pg_pid) - pg0, time.perf_counter() - t0
    reqs = max(1, n * per)
    print(
        f"{name:8} {reqs:6} req  koppel {1000 * own / reqs:6.3f} ms/req  db {1000 * pg / reqs:6.3f} ms/req  "
        f"total {1000 * (own + pg) / reqs:6.3f}  wall {1000 * wall / reqs:6.3f}"
    )


async def run(app: Any, users: int, pg_pid: int | None, prof: cProfile.Profile | None) -> None:
    d = Driver(app)
    base = "/scim/v2/bench"
    ids: list[str] = []

    async def create(i: int) -> None:
        flt = quote(f'userName eq "user.{i:06d}@contoso.example"', safe="")
        status, body = await d.call("GET", f"{base}/Users?filter={flt}")
        assert status == 200 and body["totalResults"] == 0, (status, body)
        status, body = await d.call("POST", f"{base}/Users", user_payload(i))
        assert status == 201, (status, body)
        ids.append(body["id"])

    if prof:
        prof.enable()
    await phase("users", users, create, pg_pid, per=2)
    status, body = await d.call("POST", f"{base}/Groups", {"schemas": ["x"], "displayName": "g1"})
    assert status == 201, body
    gid = body["id"]

    async def add(k: int) -> None:
        value = [{"value": u} for u in ids[k * 25 : k * 25 + 25]]
        ops = {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": value}]}
        status, body = await d.call("PATCH", f"{base}/Groups/{gid}", ops)
        assert status == 204, (status, body)

    await phase("members", len(ids) // 25, add, pg_pid)

    async def update(i: int) -> None:
        ops = [
            {"op": "Replace", "path": "displayName", "value": f"U {i} r1"},
            {"op": "Replace", "path": "title", "value": "Manager r1"},
            {"op": "Replace", "path": "name.familyName", "value": "U-r1"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"r1.{i}@contoso.example"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Sales r1"},
        ]
        status, body = await d.call("PATCH", f"{base}/Users/{ids[i]}", {"schemas": [PATCH], "Operations": ops})
        assert status == 200, (status, body)

    await phase("updates", len(ids), update, pg_pid)

    async def disable(i: int) -> None:
        ops = [{"op": "Replace", "path": "active", "value": False}]
        status, body = await d.call("PATCH", f"{base}/Users/{ids[i]}", {"schemas": [PATCH], "Operations": ops})
        assert status == 200, (status, body)

    await phase("disable", len(ids), disable, pg_pid)
    if prof:
        prof.disable()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--pg-pid", type=int)
    p.add_argument("--profile")
    p.add_argument("--concurrency", type=int, default=1)
    a = p.parse_args()
    global CONCURRENCY
    CONCURRENCY = a.concurrency
    if a.url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(a.url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    setup_koppel.main(a.url, "bench-token")
    os.environ["KOPPEL_DATABASE_URL"] = a.url
    os.environ["KOPPEL_DATA_DIR"] = "/tmp/scimbench/inproc"
    from koppel.app import create_app
    from koppel.settings import load_settings

    app = create_app(load_settings())
    prof = cProfile.Profile() if a.profile else None
    asyncio.run(run(app, a.users, a.pg_pid, prof))
    if prof and a.profile:
        prof.dump_stats(a.profile)


if __name__ == "__main__":
    main()

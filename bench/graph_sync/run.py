"""Benchmark of issue 4 §8: full sync of a 100,000-member group, then an incremental sync after 1,000 changes.

    .venv/bin/python bench/graph_sync/run.py [--members 100000] [--changes 1000]

The simulator runs in its own process (HTTPS, trustme CA); each koppel sync runs in a fresh child
process so its CPU seconds and peak RSS are koppel's alone. The database is an SQLite file.
Prints one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.graph.conftest import APP_ID, APP_SECRET, BASE_URL, CUSTOMER, GROUP, group_id, seed, upn


def serve(tls_dir: str, members: int, ready: Any) -> None:
    from tests.simulator.support import new_simulator, running

    from entra_simulator.server import make_tls

    data = seed(members)
    data["tenants"][1]["servicePrincipals"] = [{"appId": APP_ID, "adminConsent": True}]
    tls = make_tls(Path(tls_dir))
    with running(new_simulator(data), tls) as handle:
        ready.send(handle.url)
        while True:
            time.sleep(3600)


CHILD = """
import json, resource, sys, time
from koppel.settings import load_settings
from koppel.db.engine import make_engine, make_session_factory
from koppel.db.base import utcnow
from koppel.graph.sync import run_sync
from koppel.graph.models import GraphSyncRun
settings = load_settings()
factory = make_session_factory(make_engine(settings.database_url))
start = time.perf_counter()
run_id = run_sync(session_factory=factory, settings=settings, connection_id=sys.argv[1], now=utcnow)
wall = time.perf_counter() - start
with factory() as s:
    run = s.get(GraphSyncRun, run_id)
    out = {"outcome": run.outcome, "mode": run.mode, "graph_requests": run.graph_requests, "created": run.created,
           "updated": run.updated, "deactivated": run.deactivated, "errors": run.errors}
usage = resource.getrusage(resource.RUSAGE_SELF)
out.update(wall_seconds=round(wall, 2), cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
           peak_rss_mb=round(usage.ru_maxrss / 1024, 1))
print(json.dumps(out))
"""


def measure(env: dict[str, str], connection_id: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", CHILD, connection_id], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def setup(env: dict[str, str]) -> str:
    os.environ.update(env)
    from koppel.db import migrate
    from koppel.db.base import utcnow
    from koppel.db.engine import make_engine, make_session_factory, transaction
    from koppel.graph.config import EntraConfig
    from koppel.organizations import connections
    from koppel.organizations import service as orgs
    from koppel.security.crypto import SecretBox
    from koppel.settings import load_settings

    settings = load_settings()
    migrate.upgrade(settings.database_url)
    factory = make_session_factory(make_engine(settings.database_url))
    with transaction(factory) as session:
        orgs.create_organization(
            session=session, slug="bench", fields=orgs.OrganizationFields(name="Bench"), domains=[], now=utcnow()
        )
        config = EntraConfig(CUSTOMER, [group_id(GROUP)], guard_max=100_000, guard_percent=100)
        connection = connections.create_connection(
            session=session,
            secret_box=SecretBox(settings.secret),
            org="bench",
            kind="entra",
            name="bench",
            settings=config.to_settings(),
            now=utcnow(),
        )
        connections.set_status(session=session, connection=connection, status="healthy", now=utcnow())
        return connection.id


def change(admin: Any, members: int, changes: int) -> None:
    """A third renames/attribute updates, a third removals, a third new members."""
    third = changes // 3
    for i in range(third):
        admin.patch(f"/tenants/{CUSTOMER}/users/{upn(i)}", {"jobTitle": "Teamleider"})
    for i in range(third, 2 * third):
        admin.delete(f"/tenants/{CUSTOMER}/groups/{group_id(GROUP)}/members/{upn(i)}")
    for i in range(changes - 2 * third):
        name = f"nieuw{i:05d}@gesprekscyclus.onmicrosoft.com"
        admin.post(f"/tenants/{CUSTOMER}/users", {"userPrincipalName": name, "givenName": "Nieuw"})
        admin.post(f"/tenants/{CUSTOMER}/groups/{group_id(GROUP)}/members", {"member": name})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="koppel-bench-graph-"))
    receive, send = multiprocessing.Pipe(duplex=False)
    started = time.perf_counter()
    sim = multiprocessing.Process(target=serve, args=(str(work), args.members, send), daemon=True)
    sim.start()
    url = receive.recv()
    seeded = time.perf_counter() - started
    env = {
        **os.environ,
        "KOPPEL_DATA_DIR": str(work),
        "KOPPEL_SECRET_KEY": "bench-secret-key",
        "KOPPEL_ENTRA_CLIENT_ID": APP_ID,
        "KOPPEL_ENTRA_CLIENT_SECRET": APP_SECRET,
        "KOPPEL_ENTRA_AUTHORITY": url,
        "KOPPEL_GRAPH_URL": url,
        "KOPPEL_BASE_URL": BASE_URL,
        "SSL_CERT_FILE": str(work / "ca.pem"),
        "REQUESTS_CA_BUNDLE": str(work / "ca.pem"),
    }
    connection_id = setup(env)
    full = measure(env, connection_id)
    from entra_simulator.admin_client import AdminClient

    change(AdminClient(url, work / "ca.pem"), args.members, args.changes)
    incremental = measure(env, connection_id)
    sim.terminate()
    print(
        json.dumps(
            {
                "members": args.members,
                "changes": args.changes,
                "simulator_start_seconds": round(seeded, 1),
                "full": full,
                "incremental": incremental,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

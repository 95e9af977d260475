"""The PostgreSQL floor of the users phase: its SQL alone, on raw psycopg, no koppel and no SQLAlchemy.

    .venv/bin/python bench/scim/pg_floor.py postgresql://postgres@127.0.0.1:5433/koppel_floor PG_PID [--users 2000]

Recreates the database (``setup_koppel.py``), then runs, per user, what koppel sends for Entra's
pair of requests (``GET /Users?filter=userName eq ...``, ``POST /Users``): the lookup and its log row
(autocommit, the row with ``synchronous_commit`` off), and the create transaction (connection lock,
userName check, user row, locked event insert, log row). ``--concurrency`` runs that many
connections at once, as the load generator's C=8 does. Prints CPU ms per request of this client and
of PostgreSQL (postmaster and backends; PG_PID is the postmaster). What koppel adds on top of this
(HTTP, SCIM parsing and rendering, the directory diff, the driver calls) is the rest of its figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("KOPPEL_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")

import setup_koppel
from inproc import cpu_of

LOOKUP = (
    "SELECT external_id, attributes, created_at, updated_at FROM directory_users "
    "WHERE org_id = %s AND user_name_key = lower(%s) AND connection_id = %s"
)
READ_LOG = (
    "INSERT INTO scim_log (org_id, at, method, operation, resource_type, resource_id, status) "
    "SELECT %s, %s, 'GET', 'query Users', 'User', NULL, 200 "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) c"
)
OWNERS = (
    "SELECT connection_id, external_id FROM directory_users WHERE org_id = %s AND user_name_key = lower(%s) LIMIT 2"
)
INSERT_USER = (
    "INSERT INTO directory_users (id, org_id, connection_id, external_id, user_name, email, display_name, given_name, "
    "family_name, job_title, department, account_enabled, status, attributes, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, true, 'active', %s, %s, %s)"
)
INSERT_EVENT = (
    "INSERT INTO events (org_id, type, subject_id, data, occurred_at) "
    "SELECT %s, 'user.created', %s, %s, %s FROM (SELECT pg_advisory_xact_lock(118091093043564)) l"
)
WRITE_LOG = (
    "INSERT INTO scim_log (org_id, at, method, operation, resource_type, resource_id, status) "
    "VALUES (%s, %s, 'POST', 'create User', 'User', %s, 201)"
)


def provision(conn: psycopg.Connection[tuple[str, ...]], org: str, conn_id: str, users: range) -> None:
    for i in users:
        name, user_id, ext = f"floor.{i:06d}@contoso.example", str(uuid.uuid4()), str(uuid.uuid4())
        now = datetime.now(UTC)
        conn.execute(LOOKUP, (org, name, conn_id), prepare=False).fetchall()
        conn.execute(READ_LOG, (org, now))
        doc = {"scim": {"userName": name, "displayName": f"User {i}", "emails": [{"value": name, "primary": True}]}}
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(7, %s)", (12345,))
            conn.execute(OWNERS, (org, name), prepare=False).fetchall()
            values = (name, name, f"User {i}", "User", str(i), "Engineer", "Eng", Jsonb(doc), now, now)
            conn.execute(INSERT_USER, (user_id, org, conn_id, ext, *values))
            conn.execute(INSERT_EVENT, (org, user_id, Jsonb({"user": {"id": user_id, "user_name": name}}), now))
            conn.execute(WRITE_LOG, (org, now, ext))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("pg_pid", type=int)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    setup_koppel.main(args.url, "bench-token")
    plain = args.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        org, conn_id = conn.execute("SELECT org_id, id FROM connections WHERE kind = 'scim'").fetchone() or ("", "")
    per = args.users // args.concurrency
    # Connections stay open until PostgreSQL's CPU is read: an ended backend's CPU is no longer counted.
    conns = [psycopg.connect(plain, autocommit=True) for _ in range(args.concurrency)]
    threads = [
        threading.Thread(target=provision, args=(conns[k], org, conn_id, range(k * per, (k + 1) * per)))
        for k in range(args.concurrency)
    ]
    client0, pg0, wall0 = time.process_time(), cpu_of(args.pg_pid), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    requests = 2 * per * args.concurrency
    client, pg = time.process_time() - client0, cpu_of(args.pg_pid) - pg0
    for conn in conns:
        conn.close()
    print(
        f"{requests} requests, C={args.concurrency}: client {1000 * client / requests:.3f} ms/req, "
        f"PostgreSQL {1000 * pg / requests:.3f} ms/req, {requests / (time.perf_counter() - wall0):.0f} req/s"
    )


if __name__ == "__main__":
    main()

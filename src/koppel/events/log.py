"""Appending to the event log inside the caller's transaction.

The cursor (``Event.id``) must never let a reader skip an event. On PostgreSQL two
transactions can allocate ids 5 and 6 and commit 6 first; a reader at that moment would
advance past 5 for good. Writers therefore take one transaction-scoped advisory lock before
allocating ids, so ids are allocated in commit order. SQLite serialises writers already.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from koppel.db.direct import Direct
from koppel.events.models import Event

EVENT_LOG_LOCK_KEY = 0x6B6F7070656C  # "koppel"
# Run on the driver's cursor (koppel.db.direct): every directory change and login appends events.
_INSERT = Direct(insert(Event.__table__))  # type: ignore[arg-type]
_COLS = ("org_id", "type", "subject_id", "data", "occurred_at")
# PostgreSQL, one event: lock and insert in one round trip. The row is produced only after the lock
# subquery has run, and its id (the sequence default) is drawn when the row is inserted: after the lock.
_LOCKED = select(func.pg_advisory_xact_lock(bindparam("key", EVENT_LOG_LOCK_KEY, type_=BigInteger))).subquery("l")
_LOCK_AND_INSERT_ONE = Direct(
    insert(Event.__table__).from_select(  # type: ignore[arg-type]
        list(_COLS),
        select(*(bindparam(c, type_=Event.__table__.c[c].type) for c in _COLS)).select_from(_LOCKED),
    )
)
# PostgreSQL, several events (a member batch, a sync page, a batch of SCIM requests): lock and insert
# in one statement, the rows as one JSON array. Its text is the same for any count, so psycopg caches
# it and PostgreSQL prepares it (a multi-row VALUES list of more than 50 parameters is re-parsed by
# psycopg on every call), and one JSON string is far cheaper for psycopg to send than arrays.
# ORDER BY n: ids are drawn in the order of the events, after the lock.
_LOCK_AND_INSERT_MANY = Direct(
    text(
        "INSERT INTO events (org_id, type, subject_id, data, occurred_at) "
        "SELECT e.org_id, e.type, e.subject_id, e.data, e.occurred_at "
        "FROM (SELECT pg_advisory_xact_lock(:key)) AS l, "
        "ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) "
        "AS (org_id varchar, type varchar, subject_id varchar, data jsonb, occurred_at timestamptz)) "
        "WITH ORDINALITY AS e(org_id, type, subject_id, data, occurred_at, n) "
        "ORDER BY e.n"
    ).bindparams(bindparam("key", EVENT_LOG_LOCK_KEY, type_=BigInteger), bindparam("rows", type_=JSONB()))
)
_DEFERRED = "koppel_deferred_events"


@dataclass(frozen=True)
class NewEvent:
    type: str
    org_id: str | None
    subject_id: str | None
    data: dict[str, Any] = field(default_factory=dict)


def append(session: Session, events: Iterable[NewEvent], *, now: datetime) -> int:
    """Append events in the session's transaction (or to its deferred list, see ``defer``); returns how many."""
    rows = [
        {"type": e.type, "org_id": e.org_id, "subject_id": e.subject_id, "data": e.data, "occurred_at": now}
        for e in events
    ]
    deferred: list[dict[str, Any]] | None = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.extend(rows)
    elif rows:
        _write(session, rows)
    return len(rows)


def defer(session: Session) -> None:
    """Collect the events of this session's transaction and write them with ``write_deferred``, in one statement.

    For work that runs several changes in one transaction (``koppel.scim.handler.handle_batch``): one
    lock and one insert instead of one per change. The events keep their order and their times.
    """
    session.info[_DEFERRED] = []


def write_deferred(session: Session) -> int:
    rows: list[dict[str, Any]] = session.info.pop(_DEFERRED, None) or []
    if rows:
        _write(session, rows)
    return len(rows)


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    session.flush()  # rows the events refer to (e.g. a new organization) first; a no-op when clean
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        _INSERT.many(conn, rows)  # SQLite serialises writers already
    elif len(rows) == 1:
        _LOCK_AND_INSERT_ONE.run(conn, rows[0])
    else:
        _LOCK_AND_INSERT_MANY.run(conn, {"rows": rows})

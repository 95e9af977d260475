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
from sqlalchemy.orm import Session

from koppel.db.direct import Direct
from koppel.events.models import Event

EVENT_LOG_LOCK_KEY = 0x6B6F7070656C  # "koppel"
# Built once: Core statements reuse their compiled form, and skip the ORM's bulk-insert machinery.
_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(bindparam("key", EVENT_LOG_LOCK_KEY))
_INSERT = insert(Event.__table__)  # type: ignore[arg-type]
_INSERT_ONE = Direct(_INSERT)
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


@dataclass(frozen=True)
class NewEvent:
    type: str
    org_id: str | None
    subject_id: str | None
    data: dict[str, Any] = field(default_factory=dict)


def append(session: Session, events: Iterable[NewEvent], *, now: datetime) -> int:
    """Append events in the session's transaction; returns how many were written."""
    rows = [
        {"type": e.type, "org_id": e.org_id, "subject_id": e.subject_id, "data": e.data, "occurred_at": now}
        for e in events
    ]
    if not rows:
        return 0
    session.flush()  # rows the events refer to (e.g. a new organization) first; a no-op when clean
    conn = session.connection()
    if len(rows) == 1:  # the common case (one SCIM write, one login): on the driver's cursor
        (_LOCK_AND_INSERT_ONE if conn.dialect.name == "postgresql" else _INSERT_ONE).run(conn, rows[0])
    elif conn.dialect.name != "postgresql":
        conn.execute(_INSERT, rows)  # SQLite serialises writers already
    else:
        conn.execute(_LOCK)
        conn.execute(_INSERT, rows)
    return len(rows)

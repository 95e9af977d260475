"""Writing the login path's rows with one Core INSERT each, at once (no ORM unit of work)."""

from __future__ import annotations

from sqlalchemy import Insert, Table, insert
from sqlalchemy.orm import Session

from koppel.db.base import Base

_INSERTS: dict[str, Insert] = {}  # one statement per table, built once (cache-key work memoized on it)


def insert_now(session: Session, row: Base) -> None:
    """INSERT ``row`` now, in the session's transaction; the ORM's flush costs more than the statement.

    The object stays transient: read its attributes, never change them expecting an UPDATE.
    Column defaults (``new_id``, ``utcnow``) apply as for any Core insert.
    """
    table: Table = row.__table__  # type: ignore[assignment]
    values = {c.key: value for c in table.columns if (value := getattr(row, c.key, None)) is not None}
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = insert(table)
    session.connection().execute(statement, values)

"""The login path's rows on the driver's cursor (``koppel.db.direct``): no ORM unit of work, no
Core execution context; rows read come back as transient ORM objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, Table, insert
from sqlalchemy.orm import Session

from koppel.db.base import Base
from koppel.db.direct import Direct

M = TypeVar("M", bound=Base)
_INSERTS: dict[str, Direct] = {}  # one per table, compiled once per dialect and set of columns


def insert_now(session: Session, row: Base) -> None:
    """INSERT ``row`` now, in the session's transaction; the ORM's flush costs more than the statement.

    The object stays transient: read its attributes, never change them expecting an UPDATE.
    Columns with a Python-side default (``new_id``, ``utcnow``) must be given a value.
    """
    table: Table = row.__table__  # type: ignore[assignment]
    values = {c.key: value for c in table.columns if (value := getattr(row, c.key, None)) is not None}
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = Direct(insert(table))
    statement.run(session.connection(), values)


def columns(model: type[Base]) -> tuple[Column[Any], ...]:
    """All columns of ``model``'s table, in order: select them, then ``transient`` the row."""
    table: Table = model.__table__  # type: ignore[assignment]
    return tuple(table.columns)


def transient(model: type[M], row: Sequence[Any], start: int = 0) -> M:
    """The ``model`` object whose ``columns(model)`` are ``row[start:]``: read-only, in no session."""
    cols = columns(model)
    return model(**{c.key: value for c, value in zip(cols, row[start : start + len(cols)], strict=True)})

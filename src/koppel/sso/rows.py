"""The login path's rows on the driver's cursor (``koppel.db.direct``): no ORM unit of work, no
Core execution context. Rows are written from plain values (``insert_values``); read, they come back
as plain dataclasses where the module has one, else as transient ORM objects (``transient``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    insert_values(session, type(row), {c.key: getattr(row, c.key, None) for c in table.columns})


def insert_values(session: Session, model: type[Base], values: Mapping[str, Any]) -> None:
    """INSERT one row of ``model`` from plain values (None: the column's default), in the session's
    transaction. For rows nobody reads back in this request: building the ORM object cost more (8 to
    10 µs in a loop) than the INSERT on the driver's cursor. Python-side defaults must be given."""
    table: Table = model.__table__  # type: ignore[assignment]
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = Direct(insert(table))
    statement.run(session.connection(), {k: v for k, v in values.items() if v is not None})


def columns(model: type[Base]) -> tuple[Column[Any], ...]:
    """All columns of ``model``'s table, in order: select them, then ``transient`` the row."""
    table: Table = model.__table__  # type: ignore[assignment]
    return tuple(table.columns)


def transient(model: type[M], row: Sequence[Any], start: int = 0) -> M:
    """The ``model`` object whose ``columns(model)`` are ``row[start:]``: read-only, in no session."""
    cols = columns(model)
    return model(**{c.key: value for c, value in zip(cols, row[start : start + len(cols)], strict=True)})

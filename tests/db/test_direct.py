"""``Direct`` statements read and write the same values as Core, inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from koppel.db.direct import Direct
from koppel.events.models import Event
from koppel.organizations.models import Organization

T = Organization.__table__
NOW = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
ROW = {
    "id": "org-1",
    "slug": "contoso",
    "name": "Contoso",
    "privacy_statement_url": None,
    "terms_of_use_url": None,
    "terms_of_use_text": None,
    "terms_version": 1,
    "default_role": None,
    "deny_unmapped": False,
    "settings": {"nested": {"list": [1, "two", None]}, "unicode": "Zoë"},
    "created_at": NOW,
    "updated_at": NOW,
}
INSERT = Direct(insert(T))
BY_ID = Direct(select(T.c.slug, T.c.settings, T.c.created_at, T.c.deny_unmapped).where(T.c.id == bindparam("id")))


def test_written_and_read_values_match_core(engine: Engine) -> None:
    with engine.begin() as conn:
        assert INSERT.run(conn, ROW) == 1
    with engine.connect() as conn:
        direct = BY_ID.rows(conn, {"id": "org-1"})
        core = [tuple(r) for r in conn.execute(select(T.c.slug, T.c.settings, T.c.created_at, T.c.deny_unmapped))]
    assert direct == core == [("contoso", ROW["settings"], NOW, False)]
    assert direct[0][2].tzinfo is not None  # timestamps come back aware, as through Core


def test_aware_timestamps_in_other_zones_are_stored_as_the_same_instant(engine: Engine) -> None:
    amsterdam = NOW.astimezone(timezone(timedelta(hours=1)))
    with engine.begin() as conn:
        INSERT.run(conn, {**ROW, "created_at": amsterdam})
        (created,) = conn.execute(select(T.c.created_at)).one()
    assert created == NOW


def test_update_sets_the_columns_named_by_the_parameters(engine: Engine) -> None:
    rename = Direct(update(T).where(T.c.id == bindparam("_id")))
    with engine.begin() as conn:
        INSERT.run(conn, ROW)
        later = {"_id": "org-1", "updated_at": NOW}  # no Python-side onupdate: the caller passes it
        assert rename.run(conn, {**later, "name": "Contoso BV"}) == 1
        assert rename.run(conn, {**later, "slug": "contoso-bv", "deny_unmapped": True}) == 1
        assert rename.run(conn, {**later, "_id": "nobody", "name": "x"}) == 0
        with pytest.raises(ValueError, match="updated_at"):
            rename.run(conn, {"_id": "org-1", "name": "x"})
        row = conn.execute(select(T.c.slug, T.c.name, T.c.deny_unmapped)).one()
    assert tuple(row) == ("contoso-bv", "Contoso BV", True)


def test_executemany_and_rollback_with_the_callers_transaction(engine: Engine) -> None:
    events = Direct(insert(Event.__table__))
    rows = [
        {"org_id": None, "type": f"t.{i}", "subject_id": None, "data": {"i": i}, "occurred_at": NOW} for i in range(3)
    ]
    with pytest.raises(RuntimeError), engine.begin() as conn:
        events.many(conn, rows)
        raise RuntimeError("the caller fails after the writes")
    with engine.begin() as conn:
        assert conn.execute(select(Event.type)).all() == []
        events.many(conn, rows)
        assert [tuple(r) for r in conn.execute(select(Event.type, Event.data).order_by(Event.id))] == [
            (f"t.{i}", {"i": i}) for i in range(3)
        ]


def test_driver_errors_are_sqlalchemy_errors(engine: Engine) -> None:
    with engine.begin() as conn:
        INSERT.run(conn, ROW)
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        INSERT.run(conn, {**ROW, "id": "org-2"})  # the slug is unique
    assert "contoso" in str(caught.value.params)
    with engine.connect() as conn:
        assert BY_ID.rows(conn, {"id": "org-2"}) == []


def test_listeners_see_the_statement(engine: Engine) -> None:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        with engine.connect() as conn:
            BY_ID.rows(conn, {"id": "x"})
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(seen) == 1 and seen[0].startswith("SELECT organizations.slug")


def test_values_carried_by_the_statement_are_sent(engine: Engine) -> None:
    answer = Direct(text("SELECT :a + :b").bindparams(bindparam("b", 40)))
    with engine.connect() as conn:
        assert answer.rows(conn, {"a": 2}) == [(42,)]


def test_what_it_cannot_run_is_refused_with_the_reason(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(ValueError, match="expanding IN"):
            Direct(select(T.c.id).where(T.c.id.in_(bindparam("ids", expanding=True)))).rows(conn, {"ids": ["a"]})
        with pytest.raises(ValueError, match=r"pass a value for .*created_at"):
            INSERT.run(conn, {k: v for k, v in ROW.items() if k != "created_at"})

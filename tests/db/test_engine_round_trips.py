"""Round trips saved by the engine: idle-only pings, statements without BEGIN/COMMIT."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from koppel.db import engine as engine_module
from koppel.db.engine import json_text, json_value, make_engine, statement_autocommit
from koppel.organizations.models import Organization


def test_dead_idle_connection_is_replaced(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite has no server connection to lose")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = make_engine(database_url)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.dispose()
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # the connection counts as idle
        with engine.connect() as conn:
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()


def test_busy_connection_is_not_pinged(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite has no server connection to ping")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda conn: pings.append(conn) or real_ping(conn)  # type: ignore[method-assign]
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        assert pings == []  # returned a moment ago: no extra round trip
    finally:
        engine.dispose()


def test_statement_autocommit_commits_each_statement(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        statement_autocommit(session)
        session.execute(insert(Organization.__table__).values(id="o1", slug="auto", name="Auto"))  # type: ignore[arg-type]
        with session_factory() as other:  # already visible elsewhere: no transaction around it
            assert other.scalar(select(Organization.slug).where(Organization.id == "o1")) == "auto"
    with session_factory() as session, session.begin():
        session.execute(insert(Organization.__table__).values(id="o2", slug="tx", name="Tx"))  # type: ignore[arg-type]
        session.rollback()
    with session_factory() as other:  # the next session on the same pooled connection is transactional again
        assert other.scalar(select(Organization.slug).where(Organization.id == "o2")) is None


def test_json_columns_round_trip_what_orjson_refuses() -> None:
    assert json_value(json_text({"n": 2**70, 1: "one"})) == {"n": 2**70, "1": "one"}
    assert json_value(json_text({"name": "Zoë", "tags": ["a"]})) == {"name": "Zoë", "tags": ["a"]}
    assert json_value("NaN") != json_value("NaN")  # the standard library's NaN, not an error

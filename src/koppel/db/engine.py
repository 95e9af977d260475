"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def json_text(value: Any) -> str:
    """JSON for the database (orjson: several times faster than json.dumps on every directory row)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson refuses (e.g. integers beyond 64 bits): the standard library's answer
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. NaN written by an older koppel: the standard library reads it
        return json.loads(text)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", json_text)
    kwargs.setdefault("json_deserializer", json_value)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    # executemany INSERTs (memberships, their events) as multi-row VALUES statements, as SQLAlchemy
    # does for psycopg2: one statement for 25 members instead of 25 executions on the server.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    if not kwargs.get("pool_pre_ping"):
        _ping_idle_connections(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: Engine) -> None:
    """Like ``pool_pre_ping``, but only for a connection that sat idle in the pool for a while.

    A database restart or a dropped idle connection is caught before the request uses it (the pool
    then opens a fresh one); a busy pool, where connections come back within milliseconds, pays no
    extra round trip per request.
    """

    def mark(_dbapi_conn: Any, record: Any, *_: Any) -> None:
        record.info["koppel_idle_since"] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("koppel_idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"the pooled database connection is gone ({exc}); reconnecting") from exc

    event.listen(engine, "connect", mark)
    event.listen(engine, "checkin", mark)
    event.listen(engine, "checkout", checkout)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off so BEGIN IMMEDIATE below is ours:
    # writers queue on the database lock instead of failing with "database is locked".
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    if conn.get_execution_options().get(_NO_BEGIN):
        return  # statement_autocommit(): every statement commits on its own
    conn.exec_driver_sql("BEGIN IMMEDIATE")


_NO_BEGIN = "koppel_no_begin"


def statement_autocommit(session: Session) -> None:
    """Let each statement of the session's (not yet started) transaction commit on its own.

    For work that reads and then appends one row (a SCIM query and its log entry): no BEGIN and
    COMMIT round trips, and on SQLite no write lock held while reading. Call it before the first
    statement. PostgreSQL gets AUTOCOMMIT; SQLite (whose driver is in autocommit mode already, see
    ``_sqlite_pragmas``) skips the BEGIN IMMEDIATE.
    """
    session.connection(execution_options=statement_autocommit_options(session.get_bind().dialect.name))


def statement_autocommit_options(dialect_name: str) -> dict[str, Any]:
    """The execution options of ``statement_autocommit``, for a Connection that has not begun yet."""
    return {_NO_BEGIN: True} if dialect_name == "sqlite" else {"isolation_level": "AUTOCOMMIT"}


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with factory() as session, session.begin():
        yield session

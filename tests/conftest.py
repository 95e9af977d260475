"""Fixtures that chain: settings → database (SQLite, and PostgreSQL when reachable) → app → client.

Every test that asks for ``engine`` (directly or through ``app``/``client``/``session``) runs
once per backend. The schema comes from the Alembic migrations, once per backend and run;
each test starts with empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from entra_simulator.server import TlsFiles, make_tls
from koppel.app import create_app
from koppel.db import migrate
from koppel.db.engine import make_engine, make_session_factory
from koppel.settings import Settings
from tests.support.databases import backends, empty_all_tables, throwaway_database

KEEP_ENV = {"KOPPEL_TEST_DATABASE_URL"}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KOPPEL_* setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("KOPPEL_") and name not in KEEP_ENV:
            monkeypatch.delenv(name)


class Clock:
    """A settable clock: services take ``now`` from it, tests move it on."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session", params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(request.param, tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def _session_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(_session_engine: Engine) -> Engine:
    empty_all_tables(_session_engine)
    return _session_engine


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session inside one transaction, committed at the end of the test."""
    with session_factory() as s, s.begin():
        yield s


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        base_url="http://koppel.test",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
    )


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: Clock) -> FastAPI:
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def now(clock: Clock) -> Callable[[], datetime]:
    return clock


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """One CA and certificate for every HTTPS simulator of the run.

    aiohttp (azure-identity's and msgraph-sdk's async transport) builds its verifying SSL context once,
    at import, from ``SSL_CERT_FILE`` as it is then: a second CA later in the run would not be trusted.
    """
    return make_tls(tmp_path_factory.mktemp("simulator-tls"))

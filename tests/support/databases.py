"""Throwaway databases for the tests: an SQLite file, and a fresh PostgreSQL database per run.

PostgreSQL is used when ``KOPPEL_TEST_DATABASE_URL`` points at a server (``.ci/run`` sets it
when the machine's PostgreSQL answers). Each run creates ``koppel_test_<random>`` there and
drops it at the end, so nothing is left behind for the next run.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from koppel.db.engine import normalize_url
from koppel.db.models import Base

ENV = "KOPPEL_TEST_DATABASE_URL"


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(ENV) else ["sqlite"]


@contextmanager
def throwaway_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield the URL of an empty database of ``backend``; remove it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / f'koppel-{secrets.token_hex(4)}.db'}"
        return
    server = make_url(normalize_url(os.environ[ENV]))
    name = f"koppel_test_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_all_tables(engine: Engine) -> None:
    """Delete every row (children first), so each test starts from an empty schema."""
    with engine.begin() as conn:
        names = [t.name for t in reversed(Base.metadata.sorted_tables)]
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                conn.execute(text(f'DELETE FROM "{name}"'))

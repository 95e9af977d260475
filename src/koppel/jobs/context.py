"""What a job receives: the assembled parts of the process it runs in (no globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from koppel.db.base import utcnow
from koppel.db.engine import make_engine, make_session_factory
from koppel.security.crypto import SecretBox
from koppel.settings import Settings


class JobRunner(Protocol):
    """Anything that can take work for later: the in-process runner or procrastinate."""

    def enqueue(self, name: str, **kwargs: Any) -> None:
        """Queue job ``name`` with JSON keyword arguments; returns at once."""


class _NoRunner:
    def enqueue(self, name: str, **kwargs: Any) -> None:
        raise RuntimeError(f"no job runner attached to this context; cannot enqueue {name!r}")


@dataclass
class JobContext:
    """Settings, database, secrets and the clock; ``runner`` to enqueue follow-up jobs."""

    settings: Settings
    session_factory: sessionmaker[Session]
    secret_box: SecretBox
    clock: Callable[[], datetime] = utcnow
    runner: JobRunner = field(default_factory=_NoRunner)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> JobContext:
        factory = make_session_factory(make_engine(settings.database_url))
        return cls(settings, factory, SecretBox(settings.secret), clock)

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self.session_factory() as session, session.begin():
            yield session

"""What the hot SSO endpoints need from the app, taken once per request without FastAPI dependencies.

Each login endpoint is an ``async def`` that reads the request and then runs its whole body, its
own transaction included, in one worker thread (``in_worker``): one thread hand-off per request
instead of one per dependency. The transaction is committed before the response is sent.

Its units of work run on a Connection (``LoginSession``): the login's statements need only that, and
a Session's own transaction bookkeeping cost 20 to 31 µs per unit in a loop on this box, four
units per login (bench/sso/README.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Engine
from sqlalchemy.engine.interfaces import CoreExecuteOptionsParameter
from sqlalchemy.orm import Session

from koppel.db.engine import statement_autocommit_options
from koppel.security.crypto import SecretBox
from koppel.settings import Settings
from koppel.sso.cache import SsoCache
from koppel.sso.provider.context import ProviderContext
from koppel.sso.upstream.deps import get_fetcher
from koppel.sso.upstream.fetcher import UpstreamFetcher


class LoginSession(Session):
    """A Session on one Connection whose ``connection()`` is that Connection as it is.

    The login path's statements run on the driver's cursor (``koppel.db.direct``) and need only
    the Connection; ``Session.connection()`` would first set up the Session's own transaction
    around it. ORM use (``get``, ``execute``, ``add``) joins the Connection's transaction as in any
    Session bound to a Connection; its changes are flushed before the unit commits.
    """

    def __init__(self, conn: Connection) -> None:
        super().__init__(bind=conn, expire_on_commit=False, join_transaction_mode="rollback_only")
        self._conn = conn

    def connection(
        self,
        bind_arguments: dict[str, Any] | None = None,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> Connection:
        if bind_arguments is None and execution_options is None:
            return self._conn
        return super().connection(bind_arguments, execution_options)


@contextmanager
def _on(conn: Connection) -> Iterator[Session]:
    session = LoginSession(conn)
    try:
        yield session
        session.flush()
    finally:
        session.close()


@dataclass(frozen=True)
class SsoRuntime:
    settings: Settings
    engine: Engine
    secret_box: SecretBox
    clock: Callable[[], datetime]
    fetcher: UpstreamFetcher
    cache: SsoCache
    writers: AbstractContextManager[Any]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self.writers, self.engine.connect() as conn, conn.begin(), _on(conn) as session:
            yield session

    @contextmanager
    def statements(self) -> Iterator[Session]:
        """Work whose statements may each commit on their own (one write at most, reads around
        it): no BEGIN and COMMIT, and on SQLite no write lock held while reading."""
        with self.writers, self.engine.connect() as conn:
            conn.execution_options(**statement_autocommit_options(conn.dialect.name))
            with _on(conn) as session:
                yield session
            conn.commit()

    def provider(self, session: Session, now: datetime) -> ProviderContext:
        return ProviderContext(session, self.secret_box, self.settings.base_url, now, cache=self.cache)

    @property
    def secure_cookies(self) -> bool:
        return self.settings.base_url.startswith("https://")


def sso_runtime(request: Request) -> SsoRuntime:
    state = request.app.state
    cache: SsoCache | None = getattr(state, "sso_cache", None)
    if cache is None:
        cache = state.sso_cache = SsoCache()
    writers = getattr(state, "sso_writers", None)
    if writers is None:
        writers = state.sso_writers = _writers(state.engine)
    return SsoRuntime(state.settings, state.engine, state.secret_box, state.clock, get_fetcher(request), cache, writers)


def _writers(engine: Engine) -> AbstractContextManager[Any]:
    """SQLite: the login transactions of this process take turns on a lock. Every koppel
    transaction on SQLite is a writer (BEGIN IMMEDIATE); a writer that finds the database locked
    waits in SQLite's busy handler, which sleeps 1 to 100 ms between tries, while a thread
    waiting on this lock runs as soon as it is free (callback p99, bench/sso/README.md)."""
    return threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()


# The login endpoints' own threads: asyncio's executor hand-off costs less than anyio's (no capacity
# limiter or cancel scope per call), and a login never waits behind other endpoints' work.
_WORKERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="koppel-sso")


async def in_worker(func: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking endpoint body (database, upstream HTTP) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_WORKERS, func, *args)

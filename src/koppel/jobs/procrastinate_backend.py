"""The PostgreSQL backend: procrastinate queues, locks and periodic tasks for ``koppel worker``.

Each koppel job becomes a procrastinate task of the same name. A job's lock key becomes the
procrastinate ``lock`` (jobs sharing it run one at a time, in order, across every worker on
every machine) and, for deduplicated and periodic jobs, the ``queueing_lock`` (at most one
waiting). Periodic jobs are procrastinate periodic tasks; whichever worker defers a tick
first wins, so adding workers never multiplies the schedule. procrastinate's own tables
live beside koppel's and are created by ``koppel worker`` when missing (``ensure_schema``).
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from koppel.db.engine import normalize_url
from koppel.jobs.context import JobContext
from koppel.jobs.registry import REGISTRY, JobSpec, Registry, cron_for

log = logging.getLogger(__name__)
SCHEMA_LOCK_KEY = 0x6B6A6F6273  # "kjobs": two workers starting together apply the schema once


def conninfo(database_url: str) -> str:
    """libpq form of a koppel database URL (procrastinate talks psycopg directly)."""
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() != "postgresql":
        raise ValueError("KOPPEL_JOB_BACKEND=procrastinate needs a PostgreSQL KOPPEL_DATABASE_URL")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(context: JobContext, registry: Registry = REGISTRY) -> procrastinate.App:
    """A procrastinate App whose tasks call the registered koppel jobs with ``context``."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(context.settings.database_url)))
    for spec in registry.specs():
        task = app.task(name=spec.name)(_task_body(spec, context))
        if spec.every:
            lock = spec.lock_key({})
            app.periodic(cron=cron_for(spec.every), periodic_id=spec.name, lock=lock, queueing_lock=spec.queue_key({}))(
                task
            )
    return app


def _task_body(spec: JobSpec, context: JobContext) -> Any:
    def run(**kwargs: Any) -> None:
        kwargs.pop("timestamp", None)  # procrastinate passes it to periodic tasks
        spec.func(context, **kwargs)

    run.__name__ = run.__qualname__ = spec.name.replace(".", "_")
    return run


class ProcrastinateRunner:
    """Enqueue into procrastinate's queue (from the server, the CLI, or inside a job)."""

    def __init__(self, context: JobContext, *, registry: Registry = REGISTRY) -> None:
        context.runner = self
        self.context, self.registry = context, registry
        self.app = build_app(context, registry)
        self._opened = False

    def enqueue(self, name: str, **kwargs: Any) -> None:
        spec = self.registry.get(name)
        self._open()
        deferrer = self.app.configure_task(name, lock=spec.lock_key(kwargs), queueing_lock=spec.queue_key(kwargs))
        try:
            deferrer.defer(**kwargs)
        except AlreadyEnqueued:
            log.debug("job %s(%s) is already waiting; not enqueued again", name, kwargs)

    def _open(self) -> None:
        # Inside a worker the app is open asynchronously and sync calls go through it;
        # elsewhere open procrastinate's synchronous pool on first use.
        if not self._opened and not getattr(self.app.connector, "_async_pool", None):
            self.app.open()
            self._opened = True

    def close(self) -> None:
        if self._opened:
            self.app.close()
            self._opened = False

    def run_worker(self, *, concurrency: int, name: str) -> None:
        """Run until SIGINT/SIGTERM (procrastinate's handlers stop it gracefully)."""
        ensure_schema(self.context.settings.database_url)
        self.app.run_worker(concurrency=concurrency, name=name)


def ensure_schema(database_url: str) -> bool:
    """Create procrastinate's tables when missing; True when they were created now."""
    with psycopg.connect(conninfo(database_url), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is not None and row[0] is not None:
                return False
            log.info("creating procrastinate's job tables")
            conn.execute(SchemaManager.get_schema())
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))

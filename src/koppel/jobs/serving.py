"""Running the in-process backend inside ``koppel serve`` (the embedded SQLite default)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from koppel.jobs.context import JobContext
from koppel.jobs.inprocess import InProcessRunner
from koppel.jobs.registry import discover


def attach(app: FastAPI, *, concurrency: int = 4) -> InProcessRunner:
    """Run jobs in ``app``'s event loop from startup to shutdown; ``app.state.jobs`` enqueues."""
    state = app.state
    context = JobContext(state.settings, state.session_factory, state.secret_box, state.clock)
    runner = InProcessRunner(context, registry=discover(), concurrency=concurrency)
    state.jobs = runner
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        async with original(asgi_app) as inner:
            task = asyncio.create_task(runner.run(), name="koppel-jobs")
            try:
                yield inner
            finally:
                runner.stop()
                await task

    app.router.lifespan_context = lifespan
    return runner

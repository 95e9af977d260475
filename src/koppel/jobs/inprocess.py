"""The in-process backend: asyncio tasks in ``koppel serve`` / ``koppel worker`` (SQLite default).

Jobs run in threads (they use the synchronous ORM), at most ``concurrency`` at once. A lock
key is honoured twice: in this process, a job waits while another with the same key runs
(FIFO per key); across processes sharing the database, the job also holds a lease row
(``koppel.jobs.lease``) while it runs, so ``koppel serve`` and ``koppel worker`` on one SQLite
file never run the same locked job at once. The queue itself lives in memory: jobs waiting
when the process stops are gone, which is acceptable because every koppel job is idempotent
and periodic work is enqueued again by the next tick.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from koppel.db.base import utcnow
from koppel.jobs import lease
from koppel.jobs.context import JobContext
from koppel.jobs.registry import REGISTRY, JobSpec, Registry

log = logging.getLogger(__name__)


@dataclass
class _Queued:
    spec: JobSpec
    kwargs: dict[str, Any]
    lock_key: str | None
    queue_key: str | None


class InProcessRunner:
    """``enqueue`` from any thread; ``run()`` on an event loop executes the queue."""

    def __init__(
        self,
        context: JobContext,
        *,
        registry: Registry = REGISTRY,
        concurrency: int = 4,
        lease_ttl: float = 30.0,
        lease_poll: float = 0.1,
        wall_clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.context = dataclasses.replace(context, runner=self)
        self.registry = registry
        self.concurrency = concurrency
        self.lease_ttl, self.lease_poll = lease_ttl, lease_poll
        # Leases compare times written by different processes: always the real clock,
        # even when the jobs themselves run on an injected (test) clock.
        self.wall_clock = wall_clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pending: deque[_Queued] = deque()
        self._mutex = threading.Lock()
        self._running: set[asyncio.Task[None]] = set()
        self._running_keys: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False

    # -- the public interface -------------------------------------------------------------
    def enqueue(self, name: str, **kwargs: Any) -> None:
        spec = self.registry.get(name)
        item = _Queued(spec, kwargs, spec.lock_key(kwargs), spec.queue_key(kwargs))
        with self._mutex:
            if item.queue_key and any(p.queue_key == item.queue_key for p in self._pending):
                return  # deduplicated: one is already waiting
            self._pending.append(item)
        self._notify()

    async def run(self, *, periodic: bool = True, until_idle: bool = False) -> None:
        """Execute jobs until ``stop()`` (or, with ``until_idle``, until nothing is left)."""
        self._loop, self._wake, self._stopping = asyncio.get_running_loop(), asyncio.Event(), False
        tickers = [asyncio.create_task(self._tick(s)) for s in self.registry.specs() if s.every and periodic]
        try:
            while not self._stopping:
                self._wake.clear()
                self._start_ready()
                if until_idle and not self._pending and not self._running:
                    break
                await self._wake.wait()
        finally:
            for ticker in tickers:
                ticker.cancel()
            await asyncio.gather(*tickers, *self._running, return_exceptions=True)

    def drain(self) -> None:
        """Run everything enqueued so far (and what it enqueues), then return (CLI, tests)."""
        asyncio.run(self.run(periodic=False, until_idle=True))

    def stop(self) -> None:
        self._stopping = True
        self._notify()

    # -- internals ------------------------------------------------------------------------
    def _notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def _tick(self, spec: JobSpec) -> None:
        assert spec.every
        while True:
            self.enqueue(spec.name)
            await asyncio.sleep(spec.every)

    def _start_ready(self) -> None:
        """Start waiting jobs in order, skipping those whose key is busy (FIFO per key)."""
        with self._mutex:
            blocked, keep = set(self._running_keys), deque[_Queued]()
            for item in self._pending:
                if len(self._running) >= self.concurrency or (item.lock_key and item.lock_key in blocked):
                    keep.append(item)
                elif item.lock_key:
                    self._running_keys.add(item.lock_key)
                    self._launch(item)
                else:
                    self._launch(item)
                if item.lock_key:
                    blocked.add(item.lock_key)
            self._pending = keep

    def _launch(self, item: _Queued) -> None:
        task = asyncio.create_task(self._execute(item), name=f"job:{item.spec.name}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _execute(self, item: _Queued) -> None:
        key, held = item.lock_key, False
        try:
            held = key is None or await self._acquire(key)
            if held:
                await self._call_with_heartbeat(item)
        except Exception:
            log.exception("job %s(%s) failed", item.spec.name, item.kwargs)
        finally:
            if key is not None:
                if held:
                    await asyncio.to_thread(lease.release, self.context.session_factory, key=key, holder=self.holder)
                self._running_keys.discard(key)
            self._notify()

    async def _acquire(self, key: str) -> bool:
        """Wait for the database lease on ``key``; False if we are stopping meanwhile."""
        while not self._stopping:
            if await asyncio.to_thread(self._lease_call, lease.acquire, key):
                return True
            await asyncio.sleep(self.lease_poll)
        return False

    def _lease_call(self, func: Callable[..., bool], key: str) -> bool:
        factory = self.context.session_factory
        return func(factory, key=key, holder=self.holder, now=self.wall_clock(), ttl=self.lease_ttl)

    async def _call_with_heartbeat(self, item: _Queued) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(item.lock_key)) if item.lock_key else None
        try:
            await asyncio.to_thread(item.spec.func, self.context, **item.kwargs)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()

    async def _heartbeat(self, key: str) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            if not await asyncio.to_thread(self._lease_call, lease.renew, key):
                log.warning("lost the lease on %s (the job ran longer than its lease and lapsed)", key)

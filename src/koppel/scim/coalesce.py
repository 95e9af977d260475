"""Coalescing: requests that arrive in the same turn of the event loop are handled together.

The Tenant URL's handler is synchronous and runs on the event loop (its database calls take tens of
microseconds; a thread hop would cost more). While one batch runs, the next requests queue up in the
loop; when it is done, every request that became ready meanwhile is handed over in one call. Nobody
waits for a timer: a lone request is handled at once, alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
MAX_BATCH = 16  # bounds how long one batch holds its locks, and what a replay one by one costs


class Coalescer(Generic[In, Out]):
    """``await submit(item)`` returns ``run(batch)[i]`` for the batch the item was handled in."""

    def __init__(self, run: Callable[[list[In]], list[Out]], max_batch: int = MAX_BATCH) -> None:
        self.run, self.max_batch = run, max_batch
        self.pending: list[tuple[In, asyncio.Future[Out]]] = []
        self.scheduled = False

    def submit(self, item: In) -> asyncio.Future[Out]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self.pending.append((item, future))
        if not self.scheduled:
            self.scheduled = True
            # call_soon runs after the callbacks already due in this turn: the tasks of the requests
            # that arrived with this one reach submit() first and join the batch.
            loop.call_soon(self._drain)
        return future

    def _drain(self) -> None:
        batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
        self.scheduled = bool(self.pending)
        if self.pending:
            asyncio.get_running_loop().call_soon(self._drain)
        try:
            results = self.run([item for item, _ in batch])
        except BaseException as exc:  # run() answers errors itself; this is a defect: fail the batch, not the loop
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the client went away and the waiting task was cancelled
                future.set_result(result)

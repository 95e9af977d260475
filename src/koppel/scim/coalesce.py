"""Coalescing: requests that arrive in the same turn of the event loop are handled together.

The Tenant URL's handler is synchronous and runs on the event loop (its database calls take tens of
microseconds; a thread hop would cost more). While one batch runs, the next requests queue up in the
loop; when it is done, every request that became ready meanwhile is handed over in one call. A lone
request is handled at once, alone; under concurrent load a batch with a write may wait up to
``LINGER_SECONDS`` for the rest (see ``Coalescer``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
MAX_BATCH = 16  # bounds how long one batch holds its locks, and what a replay one by one costs
LINGER_SECONDS = 0.001  # the longest a request waits for the rest of its batch under concurrent load


class Coalescer(Generic[In, Out]):
    """``await submit(item)`` returns ``run(batch)[i]`` for the batch the item was handled in.

    Under steady concurrent load (the last batch had several items), a batch that holds an item worth
    waiting for (``worth_waiting``: for SCIM, a write, whose commit the batch shares) but fewer items
    than the last batch waits up to ``linger`` seconds for the rest, as a database's group commit does
    (PostgreSQL's ``commit_delay``): the clients that were just answered send their next requests within
    a fraction of a millisecond, and one commit for five writes costs far less than five. A lone request
    is never held back, nor are reads.
    """

    def __init__(
        self,
        run: Callable[[list[In]], list[Out]],
        *,
        worth_waiting: Callable[[In], bool] = lambda _: True,
        max_batch: int = MAX_BATCH,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self.run, self.worth_waiting, self.max_batch, self.linger = run, worth_waiting, max_batch, linger
        self.waiting = False  # a pending item is worth waiting for
        self.pending: list[tuple[In, asyncio.Future[Out]]] = []
        self.scheduled = False
        self.expected = 1  # the size of the last batch: how many are likely to come again
        self.timer: asyncio.TimerHandle | None = None

    def submit(self, item: In) -> asyncio.Future[Out]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self.pending.append((item, future))
        self.waiting = self.waiting or self.worth_waiting(item)
        if self.timer is not None and len(self.pending) >= self.expected:
            self.timer.cancel()  # all that were expected are here
            self.timer, self.scheduled = None, False
        if not self.scheduled:
            self.scheduled = True
            if self.waiting and len(self.pending) < self.expected and self.linger > 0:
                self.timer = loop.call_later(self.linger, self._drain)
            else:
                # call_soon runs after the callbacks already due in this turn: the tasks of the requests
                # that arrived with this one reach submit() first and join the batch.
                loop.call_soon(self._drain)
        return future

    def _drain(self) -> None:
        self.timer = None
        batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
        self.expected = len(batch)
        self.waiting = any(self.worth_waiting(item) for item, _ in self.pending)
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

"""The event cursor never lets a reader skip an event, even with concurrent writers."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from koppel.events.log import NewEvent, append
from koppel.events.models import Event
from tests.conftest import Clock

WRITERS, PER_WRITER = 4, 25


def test_concurrent_appends_are_seen_by_a_polling_reader_without_gaps(
    session_factory: sessionmaker[Session], clock: Clock
) -> None:
    seen: list[int] = []
    done = threading.Event()

    def writer(n: int) -> None:
        for i in range(PER_WRITER):
            with session_factory() as s, s.begin():
                batch = [NewEvent("test.tick", None, None, {"writer": n, "i": i, "k": k}) for k in range(1 + i % 3)]
                append(s, batch, now=clock())  # one event or several: both paths take the lock
                time.sleep(0.002 * ((n + i) % 3))  # commit late: a later id may commit first

    def reader() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with session_factory() as s:
                ids = list(s.scalars(select(Event.id).where(Event.id > cursor).order_by(Event.id)))
            seen.extend(ids)
            cursor = ids[-1] if ids else cursor
            if finished:
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    poller = threading.Thread(target=reader)
    poller.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    poller.join()
    with session_factory() as s:
        rows = list(s.execute(select(Event.id, Event.data).order_by(Event.id)))
    all_ids = [row_id for row_id, _ in rows]
    assert len(all_ids) == WRITERS * sum(1 + i % 3 for i in range(PER_WRITER))
    assert seen == all_ids, "the polling reader skipped or repeated an event"
    batches: dict[tuple[int, int], list[int]] = {}
    for _, data in rows:
        batches.setdefault((data["writer"], data["i"]), []).append(data["k"])
    assert all(ks == sorted(ks) for ks in batches.values()), "a batch's events are not in their given order"

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
                append(s, [NewEvent("test.tick", None, None, {"writer": n, "i": i})], now=clock())
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
        all_ids = list(s.scalars(select(Event.id).order_by(Event.id)))
    assert len(all_ids) == WRITERS * PER_WRITER
    assert seen == all_ids, "the polling reader skipped or repeated an event"

"""After 24 hours of failures an event is given up, the endpoint moves on, and an admin redelivers."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import transaction
from koppel.events import delivery
from koppel.events.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import Clock
from tests.events.helpers import BOX, add_endpoint, emit, run_pass
from tests.events.receiver import Receiver


def _drive_until_given_up(factory: sessionmaker[Session], clock: Clock, endpoint_id: str) -> None:
    for _ in range(100):
        with factory() as s:
            endpoint = s.get(WebhookEndpoint, endpoint_id)
            assert endpoint is not None
            if endpoint.retry_event_id is None and endpoint.last_error:
                return
            if endpoint.next_attempt_at is not None:
                clock.now = endpoint.next_attempt_at
        run_pass(factory, clock)
    raise AssertionError("never gave up")


def test_gives_up_after_24_hours_then_moves_on_and_redelivers(
    session_factory: sessionmaker[Session], clock: Clock
) -> None:
    healthy = {"on": False}
    receiver = Receiver(lambda _r: 200 if healthy["on"] else 500).start()
    endpoint_id, _ = add_endpoint(session_factory, clock, receiver.url, org_id=None)
    emit(session_factory, clock, None, "user.created", "user.updated")
    started = clock()
    _drive_until_given_up(session_factory, clock, endpoint_id)

    with session_factory() as s:
        log = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        endpoint = s.get(WebhookEndpoint, endpoint_id)
    assert endpoint is not None and "gave up" in (endpoint.last_error or "")
    assert [d.outcome for d in log[:-1]] == ["retrying"] * (len(log) - 1) and log[-1].outcome == "failed"
    assert log[-1].attempted_at - started >= delivery.backoff.GIVE_UP_AFTER
    assert 25 <= len(log) <= 40 and {d.event_id for d in log} == {log[0].event_id}
    assert all(d.status_code == 500 and "answered 500" in (d.error or "") for d in log)
    assert endpoint.last_event_id == log[0].event_id, "the endpoint moved past the given-up event"

    healthy["on"] = True
    run_pass(session_factory, clock)
    assert receiver.event_ids() == [log[0].event_id + 1], "the next event goes through"
    with transaction(session_factory) as s, httpx.Client() as http:
        again = delivery.redeliver(session=s, secret_box=BOX, http=http, delivery_id=log[-1].id, now=clock())
        assert (again.outcome, again.manual, again.attempt) == ("delivered", True, len(log) + 1)
    assert receiver.event_ids() == [log[0].event_id + 1, log[0].event_id]
    assert receiver.received[-1].headers["koppel-delivery-attempt"] == str(len(log) + 1)
    receiver.stop()


def test_disabled_endpoint_keeps_its_place(session_factory: sessionmaker[Session], clock: Clock) -> None:
    receiver = Receiver().start()
    endpoint_id, _ = add_endpoint(session_factory, clock, receiver.url, org_id=None)
    with transaction(session_factory) as s:
        s.get(WebhookEndpoint, endpoint_id).enabled = False  # type: ignore[union-attr]
    emit(session_factory, clock, None, "user.created")
    assert run_pass(session_factory, clock).delivered == 0
    with transaction(session_factory) as s:
        s.get(WebhookEndpoint, endpoint_id).enabled = True  # type: ignore[union-attr]
    assert run_pass(session_factory, clock).delivered == 1
    receiver.stop()


def test_new_endpoint_starts_at_the_end_of_the_log(session_factory: sessionmaker[Session], clock: Clock) -> None:
    receiver = Receiver().start()
    emit(session_factory, clock, None, "user.created")
    add_endpoint(session_factory, clock, receiver.url, org_id=None)
    emit(session_factory, clock, None, "user.updated")
    run_pass(session_factory, clock)
    assert [r.headers["koppel-event-type"] for r in receiver.received] == ["user.updated"]
    receiver.stop()

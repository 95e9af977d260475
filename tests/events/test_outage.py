"""A receiver that is down for an hour loses nothing: every event once, in order, signed.

A real HTTP server on loopback goes away and comes back; the clock is moved instead of
waited for, and delivery passes are driven as the periodic job would drive them.
"""

from __future__ import annotations

import itertools
import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from koppel.events.models import Event, WebhookDelivery, WebhookEndpoint
from tests.conftest import Clock
from tests.events.helpers import add_endpoint, docs_verify, emit, make_org, run_pass
from tests.events.receiver import Receiver


def test_an_hour_long_outage_loses_nothing(session_factory: sessionmaker[Session], clock: Clock) -> None:
    verify, bad_signatures = docs_verify(), []
    receiver = Receiver().start()
    org = make_org(session_factory)
    endpoint_id, secret = add_endpoint(session_factory, clock, receiver.url, org_id=org)

    def check(item: object) -> int:
        ok = verify(secret, item.headers["koppel-signature"], item.body, now=clock().timestamp())  # type: ignore[attr-defined]
        if not ok:
            bad_signatures.append(item)
        return 200 if ok else 400

    receiver.decide = check
    emit(session_factory, clock, org, "user.created", "user.updated")
    run_pass(session_factory, clock)
    assert len(receiver.received) == 2

    receiver.stop()
    for minute in range(60):  # an hour down; events keep happening; passes keep trying
        clock.advance(minutes=1)
        if minute % 10 == 0:
            emit(session_factory, clock, org, "group.member_added", "user.deactivated")
        run_pass(session_factory, clock)
    assert len(receiver.received) == 2

    receiver.start()
    clock.advance(hours=1)  # past the longest backoff
    run_pass(session_factory, clock)

    with session_factory() as s:
        all_ids = list(s.scalars(select(Event.id).order_by(Event.id)))
        endpoint = s.get(WebhookEndpoint, endpoint_id)
        log = list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    assert receiver.event_ids() == all_ids, "every event exactly once, in order"
    assert len(all_ids) == 14 and not bad_signatures
    assert [json.loads(r.body)["id"] for r in receiver.received] == all_ids
    assert endpoint is not None and endpoint.last_event_id == all_ids[-1] and endpoint.retry_event_id is None
    failures = [d for d in log if d.outcome == "retrying"]
    assert failures and all("could not connect" in (d.error or "") for d in failures)
    assert {d.event_id for d in failures} == {all_ids[2]}, "only the oldest waiting event was tried"
    gaps = [(b.attempted_at - a.attempted_at).total_seconds() for a, b in itertools.pairwise(failures)]
    assert gaps == sorted(gaps), "backoff grows"
    receiver.stop()


def test_a_later_event_waits_for_an_earlier_one_being_retried(
    session_factory: sessionmaker[Session], clock: Clock
) -> None:
    failed_once: set[int] = set()

    def flaky(item: object) -> int:
        event_id = int(item.headers["koppel-event-id"])  # type: ignore[attr-defined]
        if event_id == first + 1 and event_id not in failed_once:
            failed_once.add(event_id)
            return 503
        return 200

    receiver = Receiver(flaky).start()
    add_endpoint(session_factory, clock, receiver.url, org_id=None)
    emit(session_factory, clock, None, "a.one", "a.two", "a.three")
    with session_factory() as s:
        first = min(s.scalars(select(Event.id)))
    result = run_pass(session_factory, clock)
    assert (result.delivered, result.retrying) == (1, 1)
    assert receiver.event_ids() == [first]
    clock.advance(seconds=5)  # before the retry time (10 s ± 20 %): nothing moves
    assert run_pass(session_factory, clock).delivered == 0
    clock.advance(seconds=10)
    run_pass(session_factory, clock)
    assert receiver.event_ids() == [first, first + 1, first + 2]
    receiver.stop()


def test_filters_by_organization_and_type(session_factory: sessionmaker[Session], clock: Clock) -> None:
    receiver = Receiver().start()
    acme, other = make_org(session_factory, "acme"), make_org(session_factory, "other")
    add_endpoint(session_factory, clock, receiver.url, org_id="acme", event_types=["user.*", "group.created"])
    emit(session_factory, clock, acme, "user.created", "group.deleted", "group.created")
    emit(session_factory, clock, other, "user.created")
    emit(session_factory, clock, acme, "user_x.created", "user.deleted")
    run_pass(session_factory, clock)
    types = [r.headers["koppel-event-type"] for r in receiver.received]
    assert types == ["user.created", "group.created", "user.deleted"]
    assert run_pass(session_factory, clock).delivered == 0, "the cursor moved past what did not match"
    receiver.stop()

"""Delivering the event log to webhook endpoints: a cursor per endpoint, in order, with retries.

Each endpoint remembers the last event it is done with (``last_event_id``). A pass reads the
next matching events after it (organization and type filter, in id order), POSTs them one at
a time and moves the cursor after each success, in its own short transaction: no database
lock is held during HTTP, and a crash between a POST and its commit means that event is sent
again (at-least-once; receivers deduplicate on ``Koppel-Event-Id``). A failure records the
attempt, schedules the next one (``events.backoff``) and stops the endpoint there, so a later
event is never delivered before an earlier one that is still being retried. After 24 h the
event is given up (``failed`` in the log, redeliverable by hand) and the endpoint moves on.

Passes for one endpoint never overlap: the ``webhooks.deliver`` job holds the lock
``webhook:<endpoint id>`` (``koppel.events.jobs``). ``clock`` is called for each attempt,
because one pass may last as long as a few HTTP timeouts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import transaction
from koppel.events import backoff
from koppel.events.errors import WebhookDeliveryNotFound
from koppel.events.models import Event, WebhookDelivery, WebhookEndpoint
from koppel.events.sender import Outcome, post_event
from koppel.security.crypto import SecretBox

BATCH = 50


@dataclass
class PassResult:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def add(self, other: PassResult) -> None:
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.failed += other.failed


@dataclass
class _Batch:
    url: str
    secret: str
    retry_event_id: int | None
    retry_attempt: int
    events: list[Event] = field(default_factory=list)

    def attempt_for(self, event_id: int) -> int:
        return self.retry_attempt + 1 if self.retry_event_id == event_id else 1


def due_endpoint_ids(*, session: Session, now: datetime) -> list[str]:
    """Enabled endpoints behind the log's head and not waiting for a retry time."""
    head = select(func.coalesce(func.max(Event.id), 0)).scalar_subquery()
    query = select(WebhookEndpoint.id).where(
        WebhookEndpoint.enabled.is_(True),
        WebhookEndpoint.last_event_id < head,
        or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
    )
    return list(session.scalars(query.order_by(WebhookEndpoint.id)))


def deliver_due(
    *,
    session_factory: sessionmaker[Session],
    secret_box: SecretBox,
    http: httpx.Client,
    clock: Callable[[], datetime],
    rng: random.Random | None = None,
) -> PassResult:
    """One pass over every due endpoint, one after the other (tests, single-process use)."""
    with transaction(session_factory) as session:
        endpoint_ids = due_endpoint_ids(session=session, now=clock())
    total = PassResult()
    for endpoint_id in endpoint_ids:
        total.add(
            deliver_endpoint(
                session_factory=session_factory,
                secret_box=secret_box,
                http=http,
                endpoint_id=endpoint_id,
                clock=clock,
                rng=rng,
            )
        )
    return total


def deliver_endpoint(
    *,
    session_factory: sessionmaker[Session],
    secret_box: SecretBox,
    http: httpx.Client,
    endpoint_id: str,
    clock: Callable[[], datetime],
    rng: random.Random | None = None,
    budget: int = 500,
) -> PassResult:
    """Deliver up to ``budget`` events to one endpoint, stopping at the first failure."""
    rng = rng or random.Random()
    result, sent = PassResult(), 0
    while sent < budget:
        with transaction(session_factory) as session:
            batch = _next_batch(session, secret_box, endpoint_id, clock(), min(BATCH, budget - sent))
        if batch is None:
            return result
        for event in batch.events:
            attempt, now = batch.attempt_for(event.id), clock()
            outcome = post_event(http, url=batch.url, secret=batch.secret, event=event, attempt=attempt, now=now)
            with transaction(session_factory) as session:
                label = _record(session, endpoint_id, event, outcome, now, rng)
            sent += 1
            setattr(result, label, getattr(result, label) + 1)
            if label != "delivered":
                return result
    return result


def _matching_events(endpoint: WebhookEndpoint, head: int, limit: int) -> Any:
    query = select(Event).where(Event.id > endpoint.last_event_id, Event.id <= head)
    if endpoint.org_id is not None:
        query = query.where(Event.org_id == endpoint.org_id)
    if endpoint.event_types:
        query = query.where(or_(*(type_matches(t) for t in endpoint.event_types)))
    return query.order_by(Event.id).limit(limit)


def type_matches(pattern: str) -> Any:
    if pattern.endswith(".*"):
        return Event.type.startswith(pattern[:-1], autoescape=True)
    return Event.type == pattern


def _next_batch(session: Session, box: SecretBox, endpoint_id: str, now: datetime, limit: int) -> _Batch | None:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return None
    if endpoint.next_attempt_at is not None and endpoint.next_attempt_at > now:
        return None
    # Read the head first: event ids become visible in commit order (events.log), so no
    # event at or below it can appear later and the cursor may safely skip non-matching ones.
    head = session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0
    events = list(session.scalars(_matching_events(endpoint, head, limit)))
    if not events:
        endpoint.last_event_id = max(endpoint.last_event_id, head)
        return None
    secret = box.decrypt(endpoint.secret)
    return _Batch(endpoint.url, secret, endpoint.retry_event_id, endpoint.retry_attempt, events)


def _record(
    session: Session, endpoint_id: str, event: Event, outcome: Outcome, now: datetime, rng: random.Random
) -> str:
    """Write the attempt to the log and move the endpoint's cursor or retry schedule."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    retrying_this = endpoint is not None and endpoint.retry_event_id == event.id
    attempt = endpoint.retry_attempt + 1 if endpoint is not None and retrying_this else 1
    label, next_at = "delivered", None
    if not outcome.ok:
        first = endpoint.retry_since if endpoint is not None and retrying_this else None
        next_at = backoff.next_attempt_at(attempt=attempt, first_failure=first or now, now=now, rand=rng.random())
        label = "retrying" if next_at is not None else "failed"
    if endpoint is not None:
        _move(endpoint, event.id, label, attempt, next_at, outcome, now)
        session.add(_log_row(endpoint_id, event, attempt, label, outcome, now, next_at))
    return label


def _move(
    endpoint: WebhookEndpoint,
    event_id: int,
    label: str,
    attempt: int,
    next_at: datetime | None,
    outcome: Outcome,
    now: datetime,
) -> None:
    if label == "retrying":
        if endpoint.retry_event_id != event_id:
            endpoint.retry_event_id, endpoint.retry_since = event_id, now
        endpoint.retry_attempt, endpoint.next_attempt_at = attempt, next_at
        endpoint.last_error = outcome.error
        return
    endpoint.last_event_id = max(endpoint.last_event_id, event_id)
    endpoint.retry_event_id, endpoint.retry_attempt = None, 0
    endpoint.retry_since = endpoint.next_attempt_at = None
    if label == "delivered":
        endpoint.last_delivered_at, endpoint.last_error = now, None
    else:
        endpoint.last_error = (
            f"gave up on event {event_id} after {attempt} attempts over 24 hours "
            f"(redeliver it with: koppel webhook redeliver); last error: {outcome.error}"
        )


def _log_row(
    endpoint_id: str,
    event: Event,
    attempt: int,
    label: str,
    outcome: Outcome,
    now: datetime,
    next_at: datetime | None,
    *,
    manual: bool = False,
) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint_id=endpoint_id,
        event_id=event.id,
        event_type=event.type,
        attempt=attempt,
        manual=manual,
        outcome=label,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        attempted_at=now,
        next_attempt_at=next_at,
    )


def redeliver(
    *, session: Session, secret_box: SecretBox, http: httpx.Client, delivery_id: int, now: datetime
) -> WebhookDelivery:
    """Send a logged delivery's event again, now, once; logged as a manual attempt.

    It does not move the endpoint's cursor or retry schedule: a manual redelivery is out of
    order by nature (receivers deduplicate and order on ``Koppel-Event-Id``). A failure is
    logged as ``failed`` and not retried automatically.
    """
    from koppel.events.webhooks import get_delivery, get_endpoint

    previous = get_delivery(session=session, delivery_id=delivery_id)
    endpoint = get_endpoint(session=session, endpoint_id=previous.endpoint_id)
    event = session.get(Event, previous.event_id)
    if event is None:
        raise WebhookDeliveryNotFound(f"event {previous.event_id} is no longer in the event log")
    attempts = session.scalar(
        select(func.max(WebhookDelivery.attempt)).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == event.id
        )
    )
    attempt = (attempts or 0) + 1
    secret = secret_box.decrypt(endpoint.secret)
    outcome = post_event(http, url=endpoint.url, secret=secret, event=event, attempt=attempt, now=now)
    label = "delivered" if outcome.ok else "failed"
    row = _log_row(endpoint.id, event, attempt, label, outcome, now, None, manual=True)
    session.add(row)
    session.flush()
    return row

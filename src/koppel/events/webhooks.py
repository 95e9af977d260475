"""Webhook endpoints: create, read, change, remove; and their delivery log.

Service functions: keyword-only, session first, ``now`` injected. The signing secret is
returned once, by ``create_endpoint``; it is stored encrypted (``SecretBox``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from koppel.events.errors import InvalidWebhook, WebhookDeliveryNotFound, WebhookEndpointNotFound
from koppel.events.models import Event, WebhookDelivery, WebhookEndpoint
from koppel.events.signing import new_secret
from koppel.organizations.service import get_organization
from koppel.security.crypto import SecretBox

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?$|^\*$")


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once; koppel keeps only the encrypted form


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhook(f"{url!r} is not an http(s) URL; give it as https://host/path", field="url")
    return url.strip()


def check_types(types: Sequence[str]) -> list[str]:
    """Event types are exact ("user.created"), a prefix ("user.*"), or "*" (everything)."""
    cleaned = [t.strip() for t in types if t.strip()]
    for t in cleaned:
        if not TYPE_PATTERN.match(t):
            raise InvalidWebhook(f"{t!r} is not an event type; use e.g. user.created or user.*", field="types")
    return [] if "*" in cleaned else sorted(set(cleaned))


def resolve_org(*, session: Session, org: str) -> str:
    """An organization id from its id or slug."""
    return get_organization(session=session, ref=org).id


def create_endpoint(
    *,
    session: Session,
    secret_box: SecretBox,
    url: str,
    org_id: str | None,
    event_types: Sequence[str] = (),
    description: str = "",
    now: datetime,
) -> NewEndpoint:
    """A new endpoint starts after the newest event: it receives what happens from now on."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=check_url(url),
        org_id=resolve_org(session=session, org=org_id) if org_id else None,
        event_types=check_types(event_types),
        description=description,
        secret=secret_box.encrypt(secret),
        last_event_id=session.scalar(select(func.coalesce(func.max(Event.id), 0))),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    return NewEndpoint(endpoint, secret)


def list_endpoints(*, session: Session, org_id: str | None = None) -> list[WebhookEndpoint]:
    """All endpoints, or those of one organization (``org_id``)."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if org_id is not None:
        query = query.where(WebhookEndpoint.org_id == org_id)
    return list(session.scalars(query))


def get_endpoint(*, session: Session, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id!r} (list them: koppel webhook list)")
    return endpoint


def update_endpoint(
    *,
    session: Session,
    endpoint_id: str,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    now: datetime,
) -> WebhookEndpoint:
    """Change what is given; a disabled endpoint keeps its cursor and catches up when enabled."""
    endpoint = get_endpoint(session=session, endpoint_id=endpoint_id)
    if url is not None:
        endpoint.url = check_url(url)
    if event_types is not None:
        endpoint.event_types = check_types(event_types)
    if description is not None:
        endpoint.description = description
    if enabled is not None:
        endpoint.enabled = enabled
    endpoint.updated_at = now
    return endpoint


def delete_endpoint(*, session: Session, endpoint_id: str) -> None:
    session.delete(get_endpoint(session=session, endpoint_id=endpoint_id))


def list_deliveries(
    *, session: Session, endpoint_id: str, limit: int = 50, before: int | None = None
) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first; page with ``before`` (a delivery id)."""
    get_endpoint(session=session, endpoint_id=endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def get_delivery(*, session: Session, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise WebhookDeliveryNotFound(
            f"no webhook delivery {delivery_id} (see them: koppel webhook deliveries ENDPOINT_ID)"
        )
    return delivery

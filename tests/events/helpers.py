"""Shared setup for the webhook tests: an organization, endpoints, events, a delivery pass."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import transaction
from koppel.events import delivery, webhooks
from koppel.events.log import NewEvent, append
from koppel.organizations.models import Organization
from koppel.security.crypto import SecretBox
from tests.conftest import Clock

BOX = SecretBox("test-secret-key-not-for-production")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def docs_verify() -> Callable[..., bool]:
    """``verify_koppel_signature`` exactly as docs/webhooks.md prints it."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert code, "docs/webhooks.md lost its Python snippet"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOCS), "exec"), namespace)
    verify: Callable[..., bool] = namespace["verify_koppel_signature"]
    return verify


def make_org(factory: sessionmaker[Session], slug: str = "acme") -> str:
    with transaction(factory) as s:
        org = Organization(slug=slug, name=slug.title())
        s.add(org)
        s.flush()
        return org.id


def add_endpoint(factory: sessionmaker[Session], clock: Clock, url: str, **kwargs: Any) -> tuple[str, str]:
    with transaction(factory) as s:
        new = webhooks.create_endpoint(session=s, secret_box=BOX, url=url, now=clock(), **kwargs)
        return new.endpoint.id, new.secret


def emit(factory: sessionmaker[Session], clock: Clock, org_id: str | None, *types: str) -> None:
    with transaction(factory) as s:
        append(s, [NewEvent(t, org_id, None, {"n": i}) for i, t in enumerate(types)], now=clock())


def run_pass(factory: sessionmaker[Session], clock: Clock) -> delivery.PassResult:
    with httpx.Client(timeout=5) as http:
        return delivery.deliver_due(
            session_factory=factory, secret_box=BOX, http=http, clock=clock, rng=random.Random(7)
        )

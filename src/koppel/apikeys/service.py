"""Management API keys: created once (shown once), stored as a SHA-256 hash, revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.apikeys.models import ApiKey
from koppel.errors import NotFound
from koppel.organizations.service import get_organization
from koppel.organizations.validation import check_name
from koppel.security.tokens import generate_token, hash_token

KEY_PREFIX = "kpl"


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str  # shown once


def create_api_key(*, session: Session, name: str, org: str | None = None, now: datetime) -> NewApiKey:
    """An operator key (every organization) or, with ``org``, a key limited to that organization."""
    org_id = get_organization(session=session, ref=org).id if org else None
    secret = generate_token(KEY_PREFIX)
    api_key = ApiKey(
        name=check_name(name, max_length=100),
        prefix=secret[:12],
        key_hash=hash_token(secret),
        org_id=org_id,
        created_at=now,
    )
    session.add(api_key)
    session.flush()
    return NewApiKey(api_key, secret)


def list_api_keys(*, session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_api_key(*, session: Session, key_id: str, now: datetime) -> ApiKey:
    api_key = session.get(ApiKey, key_id)
    if api_key is None:
        raise NotFound(f"no API key {key_id!r}; list them with: koppel apikey list")
    api_key.revoked_at = api_key.revoked_at or now
    return api_key

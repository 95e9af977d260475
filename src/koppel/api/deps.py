"""FastAPI dependencies: the per-request transaction, the clock, API-key authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from koppel.apikeys.models import ApiKey
from koppel.errors import Forbidden, Unauthorized
from koppel.security.crypto import SecretBox
from koppel.security.tokens import hash_token
from koppel.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on any error."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session, session.begin():
        yield session


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def get_secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


LAST_USED_RESOLUTION = timedelta(minutes=1)
# Integer ids and cursors fit a signed 64-bit column on every database.
MAX_ROW_ID = 2**63 - 1

SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SecretBoxDep = Annotated[SecretBox, Depends(get_secret_box)]


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>' (create one: koppel apikey create)")
    return token.strip()


def require_api_key(request: Request, session: SessionDep, now: NowDep) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(_bearer(request))))
    # The lookup is by SHA-256 of the presented key; equal hashes imply equal keys, and the
    # hash comparison happens inside the database index, so no timing oracle on the key itself.
    if key is None or key.revoked_at is not None:
        raise Unauthorized("the API key is unknown or revoked")
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now  # written at most once a minute: reads stay read-only
    return key


ApiKeyDep = Annotated[ApiKey, Depends(require_api_key)]


def check_org_access(key: ApiKey, org_id: str) -> None:
    """An organization-scoped key reaches only its own organization (tenant isolation)."""
    if key.org_id is not None and key.org_id != org_id:
        raise Forbidden("this API key is limited to another organization")

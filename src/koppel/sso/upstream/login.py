"""The relying-party legs towards an organization's IdP (OIDC Core §3.1.2-§3.1.3).

State, nonce and PKCE (RFC 7636, S256) on every login; the state is stored hashed, single-use,
short-lived, and bound to one connection whose own callback URL must receive it (RFC 9700
§4.4.2: per-issuer redirect URIs defeat mix-up attacks).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from koppel.db.direct import Direct
from koppel.errors import KoppelError
from koppel.security.tokens import hash_token
from koppel.sso.errors import LoginFailed
from koppel.sso.models import LoginTransaction
from koppel.sso.protocol.claims import UpstreamIdentity, identity_from_claims
from koppel.sso.protocol.entra import tenant_from_issuer
from koppel.sso.protocol.errors import TokenValidationError
from koppel.sso.protocol.idtoken import Expectations, UnknownSigningKey, validate_token
from koppel.sso.rows import insert_values
from koppel.sso.upstream.config import UpstreamConfig
from koppel.sso.upstream.fetcher import UpstreamFetcher

TRANSACTION_LIFETIME = timedelta(minutes=15)


def callback_url(base_url: str, connection_id: str) -> str:
    return f"{base_url}/sso/callback/{connection_id}"


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What the callback needs of its (now used) ``LoginTransaction`` row."""

    nonce: str
    code_verifier: str
    request: dict[str, Any]


@dataclass(frozen=True)
class CompletedLogin:
    identity: UpstreamIdentity
    request: dict[str, Any]
    access_token: str | None


def start_login(
    *,
    session: Session,
    fetcher: UpstreamFetcher,
    config: UpstreamConfig,
    base_url: str,
    request: dict[str, Any],
    login_hint: str | None,
    now: datetime,
) -> tuple[str, str]:
    """Returns (the IdP authorization URL, the state). ``request`` is resumed after the callback."""
    metadata = fetcher.metadata(config.discovery_url)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    insert_values(
        session,
        LoginTransaction,
        {
            "state_hash": hash_token(state),
            "org_id": config.org_id,
            "connection_id": config.connection_id,
            "nonce": nonce,
            "code_verifier": verifier,
            "request": request,
            "created_at": now,
            "expires_at": now + TRANSACTION_LIFETIME,
        },
    )
    params = [
        ("client_id", config.client_id),
        ("response_type", "code"),
        ("redirect_uri", callback_url(base_url, config.connection_id)),
        ("scope", " ".join(config.scopes)),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", create_s256_code_challenge(verifier)),
        ("code_challenge_method", "S256"),
    ]
    if config.domain_hint:
        params.append(("domain_hint", config.domain_hint))
    if login_hint:
        params.append(("login_hint", login_hint))
    return add_params_to_uri(metadata.authorization_endpoint, params), state


_TAKE = Direct(  # built once: the callback's single-use consumption of the state
    update(LoginTransaction.__table__)  # type: ignore[arg-type]
    .where(
        LoginTransaction.state_hash == bindparam("b_state_hash"),
        LoginTransaction.connection_id == bindparam("b_connection_id"),
        LoginTransaction.used_at.is_(None),
        LoginTransaction.expires_at > bindparam("b_now"),
    )
    .values(used_at=bindparam("b_now"))
    .returning(*(getattr(LoginTransaction, f.name) for f in fields(PendingLogin)))
)


def take_transaction(*, session: Session, state: str, connection_id: str, now: datetime) -> PendingLogin:
    """The transaction for ``state``, marked used in one conditional UPDATE; anything else is a failed login."""
    state_hash = hash_token(state) if state else ""
    params = {"b_state_hash": state_hash, "b_connection_id": connection_id, "b_now": now}
    taken = _TAKE.rows(session.connection(), params)
    if taken:
        return PendingLogin(*taken[0])
    found = session.get(LoginTransaction, state_hash) if state else None  # why not: read only on failure
    if found is None:
        raise LoginFailed("state", "this sign-in link is unknown or was already used; start again from the app")
    if found.connection_id != connection_id:
        raise LoginFailed("mix_up", "the identity provider answered on another connection's callback")
    if found.used_at is not None:
        raise LoginFailed("state_reused", "this sign-in was already completed; start again from the app")
    raise LoginFailed("state_expired", "the sign-in took too long; start again from the app")


def finish_login(
    *, fetcher: UpstreamFetcher, config: UpstreamConfig, tx: PendingLogin, code: str, base_url: str, now: datetime
) -> CompletedLogin:
    """Redeem the code (with the PKCE verifier) and validate the ID token."""
    metadata = fetcher.metadata(config.discovery_url)
    basic = "client_secret_basic" in metadata.token_endpoint_auth_methods and not config.is_entra
    token = fetcher.token_request(
        metadata.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback_url(base_url, config.connection_id),
            "code_verifier": tx.code_verifier,
        },
        client_id=config.client_id,
        client_secret=config.client_secret,
        basic=basic,
    )
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise LoginFailed("token", "the identity provider returned no ID token; is 'openid' among the scopes?")
    tenant = config.tenant_id or (tenant_from_issuer(metadata.issuer) if config.is_entra else None)
    expect = Expectations(issuer=metadata.issuer, audience=config.client_id, nonce=tx.nonce, tenant_id=tenant)
    claims = _validated(fetcher, metadata.jwks_uri, id_token, expect, now)
    try:
        identity = identity_from_claims(claims, mapping=config.claim_mapping)
    except KoppelError as exc:
        raise LoginFailed("claims", exc.detail) from exc
    access_token = token.get("access_token")
    return CompletedLogin(identity, dict(tx.request), access_token if isinstance(access_token, str) else None)


def _validated(
    fetcher: UpstreamFetcher, jwks_uri: str, token: str, expect: Expectations, now: datetime
) -> dict[str, Any]:
    try:
        try:
            return validate_token(token, keys=fetcher.keys(jwks_uri), expect=expect, now=now)
        except UnknownSigningKey:
            return validate_token(token, keys=fetcher.keys(jwks_uri, refresh=True), expect=expect, now=now)
    except TokenValidationError as exc:
        raise LoginFailed(exc.reason, f"the identity provider's ID token was refused: {exc.detail}") from exc

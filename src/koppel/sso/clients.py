"""Host-app clients of koppel's OpenID Provider: registered once, secret shown once, stored hashed."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.errors import InvalidInput, NotFound
from koppel.security.tokens import generate_token, hash_token, token_matches
from koppel.sso import keys
from koppel.sso.models import SsoClient


def check_uri(uri: str, *, field: str) -> str:
    """RFC 6749 §3.1.2: absolute, no fragment; exact matching later (RFC 9700 §4.1.3)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise InvalidInput(f"{uri!r} must be an absolute http(s) URL without a #fragment", field=field)
    return uri


def create_client(
    *,
    session: Session,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    initiate_login_uri: str | None = None,
    id_token_signed_response_alg: str = keys.ALGORITHM,
    now: datetime,
) -> tuple[SsoClient, str]:
    """Returns the client and its secret: the only time the secret is available in clear.

    ``id_token_signed_response_alg`` (OIDC Registration §2): RS256, the default every OIDC library
    verifies, or ES256; it signs the client's ID and access tokens."""
    if not name.strip():
        raise InvalidInput("give the client a name (the host app's name)", field="name")
    if not redirect_uris:
        raise InvalidInput("give at least one redirect URI (the host app's OIDC callback)", field="redirect_uris")
    if id_token_signed_response_alg not in keys.ALGORITHMS:
        raise InvalidInput(
            f"koppel signs tokens with {' or '.join(keys.ALGORITHMS)}, not {id_token_signed_response_alg!r}",
            field="id_token_signed_response_alg",
        )
    secret = generate_token("kpcs")
    client = SsoClient(
        client_id=f"kpc_{secrets.token_hex(12)}",
        secret_hash=hash_token(secret),
        name=name.strip(),
        redirect_uris=[check_uri(u, field="redirect_uris") for u in redirect_uris],
        post_logout_redirect_uris=[
            check_uri(u, field="post_logout_redirect_uris") for u in post_logout_redirect_uris or []
        ],
        initiate_login_uri=check_uri(initiate_login_uri, field="initiate_login_uri") if initiate_login_uri else None,
        id_token_signed_response_alg=id_token_signed_response_alg,
        created_at=now,
    )
    session.add(client)
    session.flush()
    return client, secret


def list_clients(*, session: Session) -> list[SsoClient]:
    return list(session.scalars(select(SsoClient).order_by(SsoClient.created_at, SsoClient.client_id)))


def find_client(*, session: Session, client_id: str) -> SsoClient | None:
    return session.scalar(select(SsoClient).where(SsoClient.client_id == client_id))


def get_client(*, session: Session, client_id: str) -> SsoClient:
    client = find_client(session=session, client_id=client_id)
    if client is None:
        raise NotFound(f"no host-app client {client_id!r}; list them with: koppel client list")
    return client


def client_view(client: SsoClient, *, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "client_id": client.client_id,
        "name": client.name,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "initiate_login_uri": client.initiate_login_uri,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "created_at": client.created_at.isoformat(),
    }
    if secret is not None:
        out["client_secret"] = secret
    return out


def entry_client(*, session: Session, client_id: str | None) -> SsoClient | None:
    """The client an entry link starts: the one named, else the only one with an initiate-login URI."""
    if client_id:
        return find_client(session=session, client_id=client_id)
    starters = [c for c in list_clients(session=session) if c.initiate_login_uri]
    return starters[0] if len(starters) == 1 else None


def secret_matches(client: SsoClient, secret: str) -> bool:
    return bool(secret) and token_matches(secret, client.secret_hash)

"""Teams tab and Outlook add-in (seed 003, issue 5 §6): an Entra access token for the host app's API → koppel tokens.

The token is validated fully before anything else: signature against the tenant's JWKS (pinned
RS256), issuer of that tenant (v1 ``https://sts.windows.net/{tid}/`` or v2 ``…/{tid}/v2.0``; spec
§7.3), audience one of the connection's ``api_audiences``, expiry with bounded skew, a delegated
token (``scp``) carrying the required scope. The tenant then names the organization's connection;
the login continues as any other (access policy, roles, ``sso.login.*`` events). Optionally an
on-behalf-of exchange (spec §4.2) returns a Graph token for the same user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc.util import urlsafe_b64decode
from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.errors import KoppelError, Unauthorized
from koppel.organizations.models import Connection, Organization
from koppel.security.crypto import SecretBox
from koppel.settings import Settings
from koppel.sso import service
from koppel.sso.errors import LoginFailed
from koppel.sso.models import SsoSession
from koppel.sso.protocol.claims import identity_from_claims
from koppel.sso.protocol.entra import is_guid
from koppel.sso.protocol.errors import TokenValidationError
from koppel.sso.protocol.idtoken import Expectations, UnknownSigningKey, validate_token
from koppel.sso.upstream.config import UpstreamConfig, upstream_config
from koppel.sso.upstream.fetcher import UpstreamFetcher

DEFAULT_API_SCOPE = "access_as_user"
# Microsoft's first-party clients that get tokens for an app's API in Teams and Outlook (Microsoft
# Learn: "Enable SSO for tab apps", "Authorize Office add-ins"). Allowed when neither the connection
# (``settings.api_client_apps``) nor the organization (``Organization.settings``) names others;
# the host app's own SPA (nested app authentication) is added there by its app id.
WELL_KNOWN_CLIENT_APPS = {
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264": "Teams desktop and mobile",
    "5e3ce6c0-2b1f-4285-8d4b-75ee78787346": "Teams web",
    "d3590ed6-52b3-4102-aeff-aad2292ab01c": "Microsoft Office (Outlook desktop)",
    "bc59ab01-8403-45c6-8796-ac3ef710b3e3": "Outlook on the web",
    "27922004-5251-4030-b22d-91ecd9a37ea4": "Outlook mobile",
    "0ec893e0-5785-4de6-99da-4ed124e5296c": "Office UWP PWA",
    "4765445b-32c6-49b0-83e6-1d93765276ca": "Office on the web",
    "4345a7b9-9a63-4910-a426-35363201d503": "Microsoft 365 web",
}
CLIENT_APPS_SETTING = "api_client_apps"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class Exchanged:
    sso_session: SsoSession
    graph: dict[str, Any] | None


def exchange(
    *,
    session: Session,
    fetcher: UpstreamFetcher,
    settings: Settings,
    secret_box: SecretBox,
    token: str,
    want_graph: bool,
    now: datetime,
) -> Exchanged:
    config: UpstreamConfig | None = None
    try:
        connection = _connection_for(session, _unverified_tid(token))
        config = upstream_config(connection, settings=settings, secret_box=secret_box)
        claims = _validated(session, fetcher, connection, config, token, now)
        identity = identity_from_claims(claims, mapping=config.claim_mapping)
        sso_session = service.complete_login(
            session=session, config=config, identity=identity, resolve_overage=lambda _identity: [], now=now
        )
    except KoppelError as exc:
        reason = getattr(exc, "reason", exc.code)
        service.login_event(session, "sso.login.failed", config, now, reason=reason, detail=exc.detail, via="exchange")
        raise LoginFailed(reason, exc.detail) from exc
    graph = _on_behalf_of(fetcher, config, token) if want_graph else None
    return Exchanged(sso_session, graph)


def _unverified_tid(token: str) -> str:
    """Only to pick the tenant's keys and connection; every claim is checked after the signature."""
    try:
        claims = json.loads(urlsafe_b64decode(token.split(".")[1].encode()))
    except (ValueError, IndexError) as exc:
        raise LoginFailed("malformed", "subject_token is not a JWT access token") from exc
    tid = claims.get("tid") if isinstance(claims, dict) else None
    if not isinstance(tid, str) or not is_guid(tid):
        raise LoginFailed("tenant", "the token names no Entra tenant (tid)")
    return tid


def _connection_for(session: Session, tid: str) -> Connection:
    rows = session.scalars(select(Connection).where(Connection.kind == "entra").order_by(Connection.created_at))
    for connection in rows:
        s = connection.settings or {}
        if s.get("tenant_id") == tid and s.get("api_audiences") and connection.status != "paused":
            return connection
    raise LoginFailed(
        "tenant", f"no organization accepts app tokens from tenant {tid}; add --api-audience to its connection"
    )


def _validated(
    session: Session,
    fetcher: UpstreamFetcher,
    connection: Connection,
    config: UpstreamConfig,
    token: str,
    now: datetime,
) -> dict[str, Any]:
    metadata = fetcher.metadata(config.discovery_url)
    tid = str(connection.settings["tenant_id"])
    expect = Expectations(
        issuer=[metadata.issuer_for(tid), f"https://sts.windows.net/{tid}/"],
        audience=list(connection.settings["api_audiences"]),
        tenant_id=tid,
        check_azp=False,  # azp is the calling client (Teams, Outlook), not this API
    )
    try:
        try:
            claims = validate_token(token, keys=fetcher.keys(metadata.jwks_uri), expect=expect, now=now)
        except UnknownSigningKey:
            claims = validate_token(token, keys=fetcher.keys(metadata.jwks_uri, refresh=True), expect=expect, now=now)
    except TokenValidationError as exc:
        raise LoginFailed(exc.reason, f"the Entra token was refused: {exc.detail}") from exc
    _check_client_app(session, connection, claims)
    required = connection.settings.get("api_scope") or DEFAULT_API_SCOPE
    if required not in str(claims.get("scp", "")).split():
        raise LoginFailed("scope", f"the token lacks the delegated scope {required!r} (app-only tokens are refused)")
    return claims


def allowed_client_apps(session: Session, connection: Connection) -> list[str]:
    """The app ids that may present tokens: the connection's list, else the organization's, else Microsoft's."""
    org = session.get_one(Organization, connection.org_id)
    for settings in (connection.settings or {}, org.settings or {}):
        if settings.get(CLIENT_APPS_SETTING):
            return [str(a).lower() for a in settings[CLIENT_APPS_SETTING]]
    return list(WELL_KNOWN_CLIENT_APPS)


def _check_client_app(session: Session, connection: Connection, claims: dict[str, Any]) -> None:
    # azp (v2 tokens) or appid (v1) is the app that obtained the token: Teams, Outlook, the host's SPA.
    caller = str(claims.get("azp") or claims.get("appid") or "").lower()
    if caller not in allowed_client_apps(session, connection):
        raise LoginFailed(
            "client_app",
            f"the token was obtained by app {caller or '(none)'}, which may not exchange tokens here; "
            f"allow it with: koppel connection add-entra-app ... --api-client-app {caller or 'APP_ID'} "
            f"(or the connection's settings.{CLIENT_APPS_SETTING})",
        )


def _on_behalf_of(fetcher: UpstreamFetcher, config: UpstreamConfig, token: str) -> dict[str, Any]:
    metadata = fetcher.metadata(config.discovery_url)
    body = fetcher.token_request(
        metadata.token_endpoint,
        data={
            "grant_type": OBO_GRANT,
            "assertion": token,
            "scope": GRAPH_SCOPE,
            "requested_token_use": "on_behalf_of",
        },
        client_id=config.client_id,
        client_secret=config.client_secret,
        basic=False,
    )
    if not isinstance(body.get("access_token"), str):
        raise Unauthorized("Microsoft returned no Graph token for this user")
    return {"access_token": body["access_token"], "expires_in": body.get("expires_in"), "token_type": "Bearer"}

"""Sign-in connections an admin adds: Entra customer app (seed 001) and any OIDC issuer (issue 5 §3-§4).

Both are ordinary ``connections`` rows (``koppel.organizations.connections``); this module checks
what the admin typed and returns the per-connection ``redirect_uri`` they paste into the IdP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from koppel.errors import InvalidInput
from koppel.organizations.connections import create_connection, secret_names
from koppel.organizations.models import Connection
from koppel.organizations.validation import check_guid
from koppel.security.crypto import SecretBox
from koppel.sso.protocol.claims import parse_claim_mapping
from koppel.sso.protocol.entra import parse_identity_provider
from koppel.sso.upstream.config import CUSTOMER_APP, DEFAULT_SCOPES
from koppel.sso.upstream.login import callback_url


@dataclass(frozen=True)
class EntraApp:
    """Seed 001's form: identity provider URL, application (client) ID, client secret, domain hint."""

    identity_provider: str
    client_id: str
    client_secret: str
    domain_hint: str | None = None
    api_audiences: list[str] = field(default_factory=list)  # Teams tab / Outlook add-in tokens (§6)
    # App ids that may present such tokens (Teams, Outlook, the host's SPA); empty: Microsoft's own.
    api_client_apps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OidcIdp:
    discovery_url: str
    client_id: str
    client_secret: str
    claim_mapping: list[str] | dict[str, str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    # The organization's own IdP (its Okta, ADFS) vouches for everyone; a shared one (Google)
    # only for verified addresses in the organization's domains (issue 5 §5).
    organization_owned: bool = False


def add_entra_app(
    *, session: Session, secret_box: SecretBox, org: str, app: EntraApp, name: str = "Entra ID", now: datetime
) -> Connection:
    authority = parse_identity_provider(app.identity_provider)
    _require(app.client_id, "client_id", "the application (client) ID from the app registration's overview")
    _require(app.client_secret, "client_secret", "the client secret's Value (not its ID)")
    settings: dict[str, Any] = {
        "mode": CUSTOMER_APP,
        "identity_provider": f"{authority.origin}/{authority.tenant}/",
        "client_id": app.client_id.strip(),
        "domain_hint": (app.domain_hint or "").strip() or None,
        "api_audiences": app.api_audiences,
        "api_client_apps": [
            check_guid(a, field="api_client_apps", what="an application (client) ID") for a in app.api_client_apps
        ],
        "sync": False,  # sign-in only: the customer's app is not given Graph application rights
    }
    if authority.tenant_id:
        settings["tenant_id"] = authority.tenant_id
    connection = create_connection(
        session=session, secret_box=secret_box, org=org, kind="entra", name=name, settings=settings,
        secrets={"client_secret": app.client_secret}, now=now,
    )  # fmt: skip
    connection.status = "healthy"  # the customer's own app needs no admin consent from koppel's side
    return connection


def add_oidc(
    *, session: Session, secret_box: SecretBox, org: str, idp: OidcIdp, name: str = "OpenID Connect", now: datetime
) -> Connection:
    _check_discovery_url(idp.discovery_url)
    _require(idp.client_id, "client_id", "the client ID the identity provider gave koppel")
    _require(idp.client_secret, "client_secret", "the client secret the identity provider gave koppel")
    settings = {
        "discovery_url": idp.discovery_url.strip(),
        "client_id": idp.client_id.strip(),
        "claim_mapping": parse_claim_mapping(idp.claim_mapping),
        "scopes": list(idp.scopes) or list(DEFAULT_SCOPES),
        "organization_owned": idp.organization_owned,
    }
    return create_connection(
        session=session, secret_box=secret_box, org=org, kind="oidc", name=name, settings=settings,
        secrets={"client_secret": idp.client_secret}, now=now,
    )  # fmt: skip


def sso_view(connection: Connection, *, secret_box: SecretBox, base_url: str) -> dict[str, Any]:
    """The connection as the CLI and API show it, with the callback the admin registers at the IdP."""
    return {
        "id": connection.id,
        "org_id": connection.org_id,
        "kind": connection.kind,
        "name": connection.name,
        "status": connection.status,
        "settings": connection.settings,
        "secrets_set": secret_names(secret_box=secret_box, connection=connection),
        "redirect_uri": callback_url(base_url, connection.id),
    }


def _require(value: str, name: str, what: str) -> None:
    if not value or not value.strip():
        raise InvalidInput(f"{name} is missing: give {what}", field=name)


def _check_discovery_url(url: str) -> None:
    parts = urlsplit(url.strip())
    loopback = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")
    if not (parts.scheme == "https" or loopback) or not parts.netloc:
        raise InvalidInput(
            f"discovery URL {url!r} must be https://…/.well-known/openid-configuration", field="discovery_url"
        )
    if not parts.path.endswith("/.well-known/openid-configuration"):
        raise InvalidInput(
            f"discovery URL {url!r} must end in /.well-known/openid-configuration (the issuer's metadata)",
            field="discovery_url",
        )

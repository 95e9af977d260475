"""A connection row → what a login through it needs (plain data): endpoints, credentials, checks.

Three shapes (issue 5 §3-§4):
- Entra platform mode: the vendor's multi-tenant app (``Settings.entra_client_id``) after admin
  consent; ``settings.tenant_id`` is the organization's tenant and the boundary (``tid``).
- Entra customer-app mode (seed 001): ``settings.mode == "customer_app"``, the customer's own
  app registration under ``settings.identity_provider``.
- Generic OIDC: any issuer by ``settings.discovery_url``, claim mapping configurable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from koppel.errors import InvalidInput
from koppel.organizations.models import Connection
from koppel.security.crypto import SecretBox
from koppel.settings import Settings
from koppel.sso.protocol.claims import ENTRA_MAPPING, parse_claim_mapping
from koppel.sso.protocol.entra import EntraAuthority, parse_identity_provider

CUSTOMER_APP = "customer_app"
DEFAULT_SCOPES = ("openid", "profile", "email")
# User.Read: Entra ID tokens lack given/family name; a JIT user's profile is read once from Graph /me.
ENTRA_SCOPES = (*DEFAULT_SCOPES, "User.Read")


@dataclass(frozen=True)
class UpstreamConfig:
    connection_id: str
    org_id: str
    kind: str  # entra_platform | entra_app | oidc
    discovery_url: str
    client_id: str
    client_secret: str
    tenant_id: str | None = None  # Entra: the only tenant whose tokens are accepted
    domain_hint: str | None = None
    claim_mapping: dict[str, str] = field(default_factory=dict)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Issue 5 §5: an IdP that is not the organization's own (Google, any multi-tenant issuer)
    # only admits users whose verified e-mail domain belongs to the organization.
    organization_owned: bool = True

    @property
    def is_entra(self) -> bool:
        return self.kind.startswith("entra")

    @property
    def idp_label(self) -> str:
        return {"entra_platform": "entra", "entra_app": "entra"}.get(self.kind, "oidc")


def upstream_config(connection: Connection, *, settings: Settings, secret_box: SecretBox) -> UpstreamConfig:
    s = connection.settings or {}
    secrets = secret_box.decrypt_json(connection.secrets)
    base: dict[str, Any] = {
        "connection_id": connection.id,
        "org_id": connection.org_id,
        "domain_hint": s.get("domain_hint"),
    }
    if connection.kind == "oidc":
        return UpstreamConfig(
            kind="oidc",
            discovery_url=s["discovery_url"],
            client_id=s["client_id"],
            client_secret=secrets.get("client_secret", ""),
            claim_mapping=parse_claim_mapping(s.get("claim_mapping") or {}),
            scopes=tuple(s.get("scopes") or DEFAULT_SCOPES),
            organization_owned=bool(s.get("organization_owned", False)),
            **base,
        )
    if connection.kind != "entra":
        raise InvalidInput(f"connection {connection.name!r} is a {connection.kind} connection; it cannot sign users in")
    if s.get("mode") == CUSTOMER_APP:
        authority = parse_identity_provider(s["identity_provider"])
        return _entra("entra_app", authority, s["client_id"], secrets.get("client_secret", ""), s, base)
    return _platform(connection, settings=settings, base=base)


def _platform(connection: Connection, *, settings: Settings, base: dict[str, str | None]) -> UpstreamConfig:
    tenant_id = (connection.settings or {}).get("tenant_id")
    if not tenant_id or not settings.entra_client_id or settings.entra_client_secret is None:
        raise InvalidInput(
            f"connection {connection.name!r} cannot sign users in: it needs the organization's tenant ID, "
            "and koppel needs KOPPEL_ENTRA_CLIENT_ID and KOPPEL_ENTRA_CLIENT_SECRET (the platform app)"
        )
    authority = EntraAuthority(origin=settings.entra_authority, tenant=tenant_id)
    secret = settings.entra_client_secret.get_secret_value()
    return _entra("entra_platform", authority, settings.entra_client_id, secret, connection.settings or {}, base)


def _entra(
    kind: str, authority: EntraAuthority, client_id: str, secret: str, s: dict[str, str], base: dict[str, str | None]
) -> UpstreamConfig:
    return UpstreamConfig(
        kind=kind,
        discovery_url=authority.discovery_url,
        client_id=client_id,
        client_secret=secret,
        tenant_id=authority.tenant_id or s.get("tenant_id"),
        claim_mapping=ENTRA_MAPPING,
        scopes=ENTRA_SCOPES,
        **base,  # type: ignore[arg-type]
    )

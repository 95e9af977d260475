"""Entra ID specifics on plain data: authority URLs, tenants, groups overage (spec §1, §2, §7.4).

Seed 001 gives the identity provider in two forms, ``https://login.microsoftonline.com/{tenant-id}/``
or ``…/{name}.onmicrosoft.com/``; both name a tenant whose v2.0 discovery document koppel reads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from koppel.errors import InvalidInput

MULTI_TENANT = ("common", "organizations", "consumers")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


@dataclass(frozen=True)
class EntraAuthority:
    """``origin`` (scheme + host[:port]) and ``tenant`` (GUID or verified domain)."""

    origin: str
    tenant: str

    @property
    def discovery_url(self) -> str:
        return f"{self.origin}/{self.tenant}/v2.0/.well-known/openid-configuration"

    @property
    def tenant_id(self) -> str | None:
        """The tenant GUID when the URL names it; a domain is resolved through discovery."""
        return self.tenant if is_guid(self.tenant) else None


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_identity_provider(url: str) -> EntraAuthority:
    """Accept either form of seed 001's identity provider URL (with or without ``/v2.0``)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise InvalidInput(
            f"identity provider {url!r} must be https://login.microsoftonline.com/<tenant>/",
            field="identity_provider",
        )
    segments = [s for s in parts.path.split("/") if s]
    tenant = segments[0].lower() if segments else ""
    if tenant in MULTI_TENANT or not (is_guid(tenant) or _DOMAIN.match(tenant)):
        raise InvalidInput(
            f"identity provider {url!r} must name your tenant: its ID (a GUID) or "
            "<name>.onmicrosoft.com, as shown on the Entra overview page",
            field="identity_provider",
        )
    return EntraAuthority(origin=f"{parts.scheme}://{parts.netloc}", tenant=tenant)


def tenant_from_issuer(issuer: str) -> str | None:
    """``https://login.microsoftonline.com/<tid>/v2.0`` → ``<tid>`` (spec §2.1)."""
    segments = [s for s in urlsplit(issuer).path.split("/") if s]
    return segments[0] if segments and is_guid(segments[0]) else None


def has_groups_overage(claims: Mapping[str, Any]) -> bool:
    """Spec §7.4: over 200 groups the token names a claim source instead of ``groups``."""
    names = claims.get("_claim_names")
    return isinstance(names, dict) and "groups" in names and "groups" not in claims


def groups_from_member_of(page: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Graph ``/users/{id}/memberOf`` items → (object id, display name) of the groups (spec §8.4)."""
    out: list[tuple[str, str | None]] = []
    for item in page.get("value", []):
        if isinstance(item, dict) and item.get("@odata.type", "#microsoft.graph.group").endswith(".group"):
            out.append((str(item["id"]), item.get("displayName")))
    return out

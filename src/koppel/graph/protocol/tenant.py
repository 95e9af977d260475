"""Tenant identifiers: a GUID, or a verified domain resolved through discovery (spec §2.1, §2.3)."""

from __future__ import annotations

import re
import uuid
from typing import Any

DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def as_guid(value: str) -> str | None:
    """The canonical lower-case GUID, or None when ``value`` is not one."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def is_domain(value: str) -> bool:
    return bool(DOMAIN.match(value.strip().lower()))


def discovery_url(authority: str, tenant: str) -> str:
    return f"{authority}/{tenant}/v2.0/.well-known/openid-configuration"


def tenant_from_discovery(document: Any) -> str | None:
    """The tenant GUID inside the discovery ``issuer``/``token_endpoint`` (spec §2.1)."""
    if not isinstance(document, dict):
        return None
    for key in ("issuer", "token_endpoint"):
        for part in str(document.get(key, "")).split("/"):
            guid = as_guid(part) if len(part) == 36 else None
            if guid:
                return guid
    return None

"""Seed loading of app registrations and service principals (issue 3 §1; spec §4.1, §7.3, §7.4).

``graphPermissions: {application: [...], delegated: [...]}`` and ``apiPermissions: [{resource: <appId or
identifier URI>, application: [...], delegated: [...]}]`` become ``requiredResourceAccess``; ``adminConsent:
true`` grants them in the home tenant at load time, as "Grant admin consent" in the portal does.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from entra_simulator.model import (
    GRAPH_APP_ID,
    ApiScope,
    AppRegistration,
    AppRole,
    Certificate,
    Permission,
    Secret,
    Tenant,
)
from entra_simulator.store import Directory


def load_apps(directory: Directory, tenant: Tenant, specs: list[dict[str, Any]]) -> None:
    for spec in specs:
        app = make_app(tenant, spec)
        directory.add_app(tenant, app)
        if spec.get("adminConsent"):
            directory.grant_consent(tenant, app)


def load_service_principals(
    directory: Directory, tenant: Tenant, specs: list[dict[str, Any]], group_names: dict[str, str]
) -> None:
    """Service principals of apps (possibly from other tenants: load those first) with consent and roles."""
    from entra_simulator.seed import resolve_ref

    for spec in specs:
        sp = directory.ensure_service_principal(tenant, spec["appId"])
        app = directory.apps.get(spec["appId"])
        if spec.get("adminConsent") and app is not None:
            directory.grant_consent(tenant, app)
        for assignment in spec.get("appRoleAssignments", []):
            principal = resolve_ref(tenant, group_names, assignment["principal"])
            if principal:
                sp.user_roles.append((principal, assignment["role"]))


def parse_time(value: Any, default_days: int = 365) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.now(UTC) + timedelta(days=default_days)


def make_app(tenant: Tenant, spec: dict[str, Any]) -> AppRegistration:
    app_id = str(spec.get("appId") or uuid.uuid4())
    api = spec.get("api") or {}
    return AppRegistration(
        id=str(spec.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"app/{app_id}")),
        app_id=app_id,
        tenant_id=tenant.id,
        display_name=spec.get("displayName", app_id),
        sign_in_audience=spec.get("signInAudience", "AzureADMyOrg"),
        secrets=[make_secret(s) for s in spec.get("secrets", [])],
        certificates=[make_certificate(c) for c in spec.get("certificates", [])],
        redirect_uris=list(spec.get("redirectUris", [])),
        public_client=bool(spec.get("publicClient", False)),
        logout_url=spec.get("logoutUrl"),
        required=list(_permissions(spec)),
        group_membership_claims=spec.get("groupMembershipClaims"),
        optional_claims=dict(spec.get("optionalClaims") or {}),
        app_roles=[
            AppRole(
                str(r.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{app_id}/role/{r['value']}")),
                r["value"],
                r.get("displayName", r["value"]),
                list(r.get("allowedMemberTypes", ["User", "Application"])),
            )
            for r in spec.get("appRoles", [])
        ],
        scopes=[
            ApiScope(
                str(s.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{app_id}/scope/{s['value']}")),
                s["value"],
                s.get("adminConsentDisplayName", s["value"]),
            )
            for s in api.get("oauth2PermissionScopes", [])
        ],
        identifier_uris=list(spec.get("identifierUris", [])),
        access_token_version=api.get("requestedAccessTokenVersion"),
    )


def _permissions(spec: dict[str, Any]) -> list[Permission]:
    blocks = [{"resource": GRAPH_APP_ID, **(spec.get("graphPermissions") or {})}]
    blocks += list(spec.get("apiPermissions") or [])
    out: list[Permission] = []
    for block in blocks:
        out += [Permission(block["resource"], v, "Role") for v in block.get("application", [])]
        out += [Permission(block["resource"], v, "Scope") for v in block.get("delegated", [])]
    return out


def make_secret(spec: dict[str, Any] | str) -> Secret:
    if isinstance(spec, str):
        spec = {"value": spec}
    return Secret(
        key_id=str(spec.get("keyId") or uuid.uuid4()),
        value=str(spec.get("value") or new_secret_value()),
        end=parse_time(spec.get("endDateTime"), default_days=730),
        display_name=spec.get("displayName", ""),
    )


def new_secret_value() -> str:
    """Secrets look like Entra's (40 chars, includes ``~`` ``.`` ``_`` ``-``; koppel must cope with any)."""
    return secrets.token_urlsafe(30)[:36].replace("-", "~", 1) + "Q8~."


def make_certificate(spec: dict[str, Any]) -> Certificate:
    pem = spec.get("pem") or Path(spec["path"]).read_text(encoding="utf-8")
    cert = x509.load_pem_x509_certificate(pem.encode())
    der = cert.public_bytes(serialization.Encoding.DER)
    return Certificate(
        key_id=str(spec.get("keyId") or uuid.uuid4()),
        pem=pem,
        sha1=hashlib.sha1(der).digest(),  # noqa: S324 - x5t is a SHA-1 thumbprint by definition
        sha256=hashlib.sha256(der).digest(),
        end=parse_time(spec.get("endDateTime"), 0) if spec.get("endDateTime") else cert.not_valid_after_utc,
    )

"""The simulated directory: tenants, users, groups, app registrations, service principals, grants.

Users and groups keep their Microsoft Graph properties in ``props`` under Graph's own (camelCase) names, so
serialising them is picking keys (spec §8.3, §8.4); everything the real service keeps but never shows through
Graph (passwords, directory roles, membership indexes) is a typed field beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GLOBAL_ADMIN = "Global Administrator"


@dataclass(slots=True)
class User:
    id: str
    props: dict[str, Any]
    password: str | None = None
    directory_roles: list[str] = field(default_factory=list)
    member_of: set[str] = field(default_factory=set)
    json_cache: dict[Any, bytes] = field(default_factory=dict)

    @property
    def upn(self) -> str:
        return str(self.props["userPrincipalName"])

    @property
    def is_guest(self) -> bool:
        return self.props.get("userType") == "Guest"

    @property
    def enabled(self) -> bool:
        return bool(self.props.get("accountEnabled", True))


@dataclass(slots=True)
class Group:
    id: str
    props: dict[str, Any]
    members: dict[str, None] = field(default_factory=dict)  # insertion-ordered set of member object ids
    owners: list[str] = field(default_factory=list)
    member_of: set[str] = field(default_factory=set)
    json_cache: dict[Any, bytes] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return str(self.props.get("displayName", ""))

    @property
    def is_security(self) -> bool:
        return bool(self.props.get("securityEnabled"))

    @property
    def sam_account_name(self) -> str | None:
        value = self.props.get("onPremisesSamAccountName")
        return str(value) if value else None


@dataclass(slots=True)
class Secret:
    key_id: str
    value: str
    end: datetime
    display_name: str = ""

    @property
    def hint(self) -> str:
        return self.value[:3]


@dataclass(slots=True)
class Certificate:
    key_id: str
    pem: str
    sha1: bytes
    sha256: bytes
    end: datetime


@dataclass(slots=True)
class Permission:
    """One requested permission: ``resource`` is an appId (Graph's is GRAPH_APP_ID); kind Role or Scope."""

    resource: str
    value: str
    kind: str


@dataclass(slots=True)
class AppRole:
    id: str
    value: str
    display_name: str
    allowed_member_types: list[str]


@dataclass(slots=True)
class ApiScope:
    id: str
    value: str
    admin_consent_display_name: str


@dataclass(slots=True)
class AppRegistration:
    id: str
    app_id: str
    tenant_id: str
    display_name: str
    sign_in_audience: str = "AzureADMyOrg"
    secrets: list[Secret] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    redirect_uris: list[str] = field(default_factory=list)
    public_client: bool = False
    logout_url: str | None = None
    required: list[Permission] = field(default_factory=list)
    group_membership_claims: str | None = None
    optional_claims: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    app_roles: list[AppRole] = field(default_factory=list)
    scopes: list[ApiScope] = field(default_factory=list)
    identifier_uris: list[str] = field(default_factory=list)
    access_token_version: int | None = None
    created: str = ""


@dataclass(slots=True)
class ServicePrincipal:
    """An app's instance in one tenant; holds its app-role assignments on resources (spec §7.3)."""

    id: str
    app_id: str
    display_name: str
    app_roles: set[tuple[str, str]] = field(default_factory=set)  # (resource appId, role value)
    user_roles: list[tuple[str, str]] = field(default_factory=list)  # (principal id, own role value)


@dataclass(slots=True)
class PermissionGrant:
    """An oauth2PermissionGrant: delegated scopes of ``client`` on ``resource`` for all or one principal."""

    client_app_id: str
    resource: str
    scopes: set[str]
    principal_id: str | None = None  # None = AllPrincipals (admin consent)


@dataclass(slots=True)
class Tenant:
    id: str
    display_name: str
    domains: list[str]
    country: str = "NL"
    created: str = ""
    users: dict[str, User] = field(default_factory=dict)
    by_upn: dict[str, str] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    apps: dict[str, AppRegistration] = field(default_factory=dict)
    service_principals: dict[str, ServicePrincipal] = field(default_factory=dict)  # by appId
    grants: list[PermissionGrant] = field(default_factory=list)

    @property
    def initial_domain(self) -> str:
        return next((d for d in self.domains if d.endswith(".onmicrosoft.com")), self.domains[0])

    def find_user(self, key: str) -> User | None:
        """By object id or userPrincipalName (case-insensitive), as ``/users/{id|upn}`` (spec §8.3)."""
        user = self.users.get(key)
        if user is None:
            uid = self.by_upn.get(key.lower())
            user = self.users.get(uid) if uid else None
        return user

    def find_user_by_mail(self, address: str) -> User | None:
        """By mail or otherMails (case-insensitive): how a guest names their own account."""
        wanted = address.lower()
        for user in self.users.values():
            mails = [user.props.get("mail"), *(user.props.get("otherMails") or [])]
            if any(isinstance(m, str) and m.lower() == wanted for m in mails):
                return user
        return None

    def delegated_scopes(self, client_app_id: str, resource: str, user_id: str) -> set[str]:
        scopes: set[str] = set()
        for g in self.grants:
            same_app = g.client_app_id == client_app_id and g.resource == resource
            if same_app and (g.principal_id is None or g.principal_id == user_id):
                scopes |= g.scopes
        return scopes

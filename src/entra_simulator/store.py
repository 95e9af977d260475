"""The in-memory directory of every simulated tenant, with the indexes lookups need and every mutation.

Each mutation keeps the indexes (UPN, domain, memberOf), drops the cached JSON of what it touched and appends
to the tenant's :class:`~entra_simulator.changelog.ChangeLog`, so delta rounds (spec §8.5) see exactly it.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from entra_simulator.changelog import GROUP, USER, ChangeLog
from entra_simulator.model import AppRegistration, Group, PermissionGrant, ServicePrincipal, Tenant, User


class Directory:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.by_domain: dict[str, str] = {}
        self.apps: dict[str, AppRegistration] = {}
        self.logs: dict[str, ChangeLog] = {}

    # --- lookups ---------------------------------------------------------------------------------------
    def tenant(self, key: str) -> Tenant | None:
        """A tenant by GUID or by any of its domains (spec §1)."""
        tenant = self.tenants.get(key.lower())
        if tenant is None and (tid := self.by_domain.get(key.lower())):
            tenant = self.tenants[tid]
        return tenant

    def log(self, tenant: Tenant) -> ChangeLog:
        return self.logs[tenant.id]

    def object_kind(self, tenant: Tenant, object_id: str) -> str | None:
        if object_id in tenant.users:
            return USER
        return GROUP if object_id in tenant.groups else None

    # --- tenants and apps ------------------------------------------------------------------------------
    def add_tenant(self, tenant: Tenant) -> Tenant:
        with self.lock:
            tenant.id = tenant.id.lower()
            self.tenants[tenant.id] = tenant
            self.logs[tenant.id] = ChangeLog()
            for domain in tenant.domains:
                self.by_domain[domain.lower()] = tenant.id
            return tenant

    def add_app(self, tenant: Tenant, app: AppRegistration) -> None:
        with self.lock:
            tenant.apps[app.app_id] = app
            self.apps[app.app_id] = app
            self.ensure_service_principal(tenant, app.app_id)

    def ensure_service_principal(self, tenant: Tenant, app_id: str) -> ServicePrincipal:
        sp = tenant.service_principals.get(app_id)
        if sp is None:
            app = self.apps.get(app_id)
            sp = ServicePrincipal(str(uuid.uuid4()), app_id, app.display_name if app else app_id)
            tenant.service_principals[app_id] = sp
        return sp

    # --- users -----------------------------------------------------------------------------------------
    def add_user(self, tenant: Tenant, user: User) -> User:
        with self.lock:
            user.props.setdefault("id", user.id)
            user.props.setdefault("createdDateTime", _now())
            tenant.users[user.id] = user
            tenant.by_upn[user.upn.lower()] = user.id
            self.logs[tenant.id].created(USER, user.id)
            return user

    def update_user(self, tenant: Tenant, user: User, changes: dict[str, Any]) -> User:
        with self.lock:
            old_upn = user.upn.lower()
            user.props.update({k: v for k, v in changes.items() if k not in ("id", "password")})
            if "password" in changes:
                user.password = changes["password"]
            if user.upn.lower() != old_upn:
                tenant.by_upn.pop(old_upn, None)
                tenant.by_upn[user.upn.lower()] = user.id
            user.json_cache.clear()
            changed = tuple(k for k in changes if k not in ("id", "password"))
            self.logs[tenant.id].record(USER, user.id, "changed", props=changed)
            return user

    def delete_user(self, tenant: Tenant, user: User) -> None:
        with self.lock:
            for gid in list(user.member_of):
                self.remove_member(tenant, tenant.groups[gid], user.id)
            tenant.users.pop(user.id, None)
            tenant.by_upn.pop(user.upn.lower(), None)
            self.logs[tenant.id].record(USER, user.id, "deleted")

    # --- groups ----------------------------------------------------------------------------------------
    def add_group(self, tenant: Tenant, group: Group) -> Group:
        with self.lock:
            group.props.setdefault("id", group.id)
            group.props.setdefault("createdDateTime", _now())
            tenant.groups[group.id] = group
            self.logs[tenant.id].created(GROUP, group.id)
            return group

    def delete_group(self, tenant: Tenant, group: Group) -> None:
        with self.lock:
            for member_id in list(group.members):
                self.remove_member(tenant, group, member_id)
            for parent in list(group.member_of):
                self.remove_member(tenant, tenant.groups[parent], group.id)
            tenant.groups.pop(group.id, None)
            self.logs[tenant.id].record(GROUP, group.id, "deleted")

    def add_member(self, tenant: Tenant, group: Group, member_id: str, *, log: bool = True) -> bool:
        with self.lock:
            member = tenant.users.get(member_id) or tenant.groups.get(member_id)
            if member is None or member_id in group.members:
                return False
            group.members[member_id] = None
            member.member_of.add(group.id)
            if log:
                self.logs[tenant.id].record(GROUP, group.id, "member_add", member_id)
            return True

    def remove_member(self, tenant: Tenant, group: Group, member_id: str) -> bool:
        with self.lock:
            if member_id not in group.members:
                return False
            del group.members[member_id]
            member = tenant.users.get(member_id) or tenant.groups.get(member_id)
            if member is not None:
                member.member_of.discard(group.id)
            self.logs[tenant.id].record(GROUP, group.id, "member_remove", member_id)
            return True

    def transitive_groups(self, tenant: Tenant, object_id: str) -> list[str]:
        """All groups an object belongs to, through nesting (spec §7.4: groups claims are transitive)."""
        member = tenant.users.get(object_id) or tenant.groups.get(object_id)
        seen: dict[str, None] = {}
        stack = list(member.member_of) if member else []
        while stack:
            gid = stack.pop()
            if gid not in seen and gid in tenant.groups:
                seen[gid] = None
                stack.extend(tenant.groups[gid].member_of)
        return list(seen)

    # --- consent ---------------------------------------------------------------------------------------
    def grant_consent(
        self, tenant: Tenant, app: AppRegistration, *, principal_id: str | None = None
    ) -> ServicePrincipal:
        """What an admin's "Grant admin consent" does: app roles assigned, delegated scopes granted (§5)."""
        with self.lock:
            sp = self.ensure_service_principal(tenant, app.app_id)
            by_resource: dict[str, set[str]] = {}
            for perm in app.required:
                if perm.kind == "Role" and principal_id is None:
                    sp.app_roles.add((perm.resource, perm.value))
                elif perm.kind == "Scope":
                    by_resource.setdefault(perm.resource, set()).add(perm.value)
            for resource, scopes in by_resource.items():
                tenant.grants.append(PermissionGrant(app.app_id, resource, scopes, principal_id))
            return sp

    def revoke_consent(self, tenant: Tenant, app: AppRegistration) -> None:
        """Removes the app's roles and delegated grants in the tenant (keeps the home tenant's SP object)."""
        with self.lock:
            sp = tenant.service_principals.get(app.app_id)
            if sp is not None:
                sp.app_roles.clear()
                if tenant.id != app.tenant_id:
                    del tenant.service_principals[app.app_id]
            tenant.grants = [g for g in tenant.grants if g.client_app_id != app.app_id]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

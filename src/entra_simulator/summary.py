"""What ``serve --json`` prints and ``GET /_simulator/tenants`` returns: enough to use a tenant at once (issue 3 §1)."""

from __future__ import annotations

from typing import Any

from entra_simulator.model import Tenant
from entra_simulator.store import Directory

USERS_SHOWN = 5


def tenant_summary(tenant: Tenant, now: float) -> dict[str, Any]:
    apps = []
    for app in tenant.apps.values():
        live = [s for s in app.secrets if s.end.timestamp() > now]
        apps.append({"client_id": app.app_id, "client_secret": live[0].value if live else None})
    groups = [
        {"id": g.id, "displayName": g.display_name, "memberCount": len(g.members)} for g in tenant.groups.values()
    ]
    users = []
    for user in tenant.users.values():
        if user.password and user.enabled:
            users.append({"userPrincipalName": user.upn, "password": user.password})
            if len(users) >= USERS_SHOWN:
                break
    return {"id": tenant.id, "domain": tenant.initial_domain, "apps": apps, "groups": groups, "users": users}


def summary(directory: Directory, now: float) -> list[dict[str, Any]]:
    return [tenant_summary(t, now) for t in directory.tenants.values()]

"""Which resource a ``scope`` parameter names, and what its access tokens look like (spec §4.2, §7.3, §9.7).

A scope without a resource prefix means Microsoft Graph (``User.Read``); ``{resource}/.default`` asks for
everything consented; resources are Graph (its URL or appId), an app's identifier URI (``api://...``) or appId.
The simulator's own origin (with or without port, as kiota derives it) also means Graph (spec §9.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from entra_simulator.errors import AadError
from entra_simulator.model import GRAPH_APP_ID, AppRegistration
from entra_simulator.store import Directory

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
GRAPH_URL = "https://graph.microsoft.com"


@dataclass(frozen=True)
class Resource:
    app_id: str
    aud: str
    version: int
    app: AppRegistration | None = None

    @property
    def is_graph(self) -> bool:
        return self.app_id == GRAPH_APP_ID


@dataclass(frozen=True)
class ScopeRequest:
    resource: Resource
    permissions: tuple[str, ...]  # names without resource prefix; ".default" possible
    oidc: tuple[str, ...]
    prefix: str = GRAPH_URL

    def scope_string(self, granted: list[str] | set[str]) -> str:
        """The ``scope`` of a token response: granted permissions with the resource prefix (spec §4.3)."""
        prefix = GRAPH_URL if self.resource.is_graph else self.prefix
        return " ".join([*(f"{prefix}/{g}" for g in sorted(granted)), *self.oidc])


def graph_resource(aud: str = GRAPH_URL) -> Resource:
    return Resource(GRAPH_APP_ID, aud, 1)


def _resource_for(directory: Directory, prefix: str, origin: str) -> Resource | None:
    low = prefix.rstrip("/").lower()
    if low in (GRAPH_URL, GRAPH_APP_ID):
        return graph_resource(GRAPH_URL if low == GRAPH_URL else GRAPH_APP_ID)
    sim = urlsplit(origin)
    if low in (origin.lower(), f"{sim.scheme}://{sim.hostname}".lower()):
        return graph_resource()
    for app in directory.apps.values():
        if low == app.app_id.lower() or low in (u.lower().rstrip("/") for u in app.identifier_uris):
            aud = app.app_id if app.access_token_version == 2 else prefix.rstrip("/")
            return Resource(app.app_id, aud, app.access_token_version or 1, app)
    return None


def parse_scopes(directory: Directory, scope: str, origin: str) -> ScopeRequest:
    """Split a scope string into one resource (the first named wins, spec §4.2) and OIDC scopes."""
    oidc: list[str] = []
    resource: Resource | None = None
    first_prefix = GRAPH_URL
    perms: list[str] = []
    for item in scope.split():
        if item in OIDC_SCOPES:
            oidc.append(item)
            continue
        prefix, _, name = item.rpartition("/") if "/" in item else ("", "", item)
        found = _resource_for(directory, prefix, origin) if prefix else graph_resource()
        if found is None:
            raise AadError(
                "invalid_resource",
                500011,
                f"The resource principal named {prefix} was not found in the tenant. This can happen if the "
                "application has not been installed by the administrator of the tenant or consented to by any "
                "user in the tenant.",
            )
        if resource is None:
            resource, first_prefix = found, prefix or GRAPH_URL
        if found.app_id == resource.app_id:
            perms.append(name)
    return ScopeRequest(resource or graph_resource(), tuple(perms), tuple(oidc), first_prefix)

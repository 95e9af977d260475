"""Who is calling Graph: the bearer token checked as graph.microsoft.com checks it (spec §7.3, §8.1).

Signature (the simulator's published keys), audience (Graph), lifetime and tenant; then the permissions:
``roles`` for app-only tokens, ``scp`` for delegated ones. A token with neither is what an app without consent
gets from the token endpoint; Graph rejects it with 401 ``InvalidAuthenticationToken`` (observed message).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from entra_simulator.errors import GraphError, denied
from entra_simulator.graph.wire import sim_of
from entra_simulator.graph_permissions import GRAPH_RESOURCES
from entra_simulator.jose import JoseError, split, verify
from entra_simulator.model import Tenant, User
from entra_simulator.state import Simulator

# Sent with every 401, as Graph does (spec §8.1, I-G401).
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
_VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Caller:
    tenant: Tenant
    app_id: str
    permissions: frozenset[str]
    user: User | None  # None for app-only tokens

    @property
    def app_only(self) -> bool:
        return self.user is None


def unauthenticated(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": WWW_AUTHENTICATE})


class VerifiedTokens:
    """Signature checks are the costly part of a page request; a token verified once stays verified while the
    key that signed it is still published (one cache per app, so simulators in one process stay apart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[str, dict[str, Any]]] = {}

    def claims(self, sim: Simulator, token: str) -> dict[str, Any]:
        cached = self._claims.get(token)
        if cached is not None and sim.keys.find(cached[0]) is not None:
            return cached[1]
        try:
            header, _, _, _ = split(token)
            kid = str(header.get("kid"))
            key = sim.keys.find(kid)
            if key is None:
                raise JoseError("unknown signing key")
            claims = verify(token, key.private_key.public_key())
        except JoseError as exc:
            raise unauthenticated("Access token validation failure.") from exc
        with self._lock:
            if len(self._claims) >= _VERIFIED_CACHE_SIZE:
                self._claims.clear()
            self._claims[token] = (kid, claims)
        return claims


def _verified(request: Request) -> VerifiedTokens:
    cache: VerifiedTokens | None = getattr(request.app.state, "graph_verified_tokens", None)
    if cache is None:
        cache = request.app.state.graph_verified_tokens = VerifiedTokens()
    return cache


def authenticate(request: Request) -> Caller:
    sim = sim_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthenticated("Access token is empty.")
    claims = _verified(request).claims(sim, token)
    if claims.get("aud") not in GRAPH_RESOURCES:
        raise unauthenticated("Access token validation failure. Invalid audience.")
    now = sim.clock()
    if float(claims.get("exp", 0)) < now or float(claims.get("nbf", 0)) > now + 300:
        raise unauthenticated("Access token has expired or is not yet valid.")
    tenant = sim.directory.tenant(str(claims.get("tid", "")))
    if tenant is None:
        raise unauthenticated("Access token validation failure.")
    app_id = str(claims.get("appid") or claims.get("azp") or "")
    if "scp" in claims:
        user = tenant.users.get(str(claims.get("oid")))
        if user is None:
            raise unauthenticated("Access token validation failure. The user in the token no longer exists.")
        return Caller(tenant, app_id, frozenset(str(claims["scp"]).split()), user)
    roles = claims.get("roles")
    if not roles:
        raise unauthenticated("Either scp or roles claim need to be present in the token.")
    return Caller(tenant, app_id, frozenset(str(r) for r in roles), None)


def require(request: Request, allowed: Collection[str]) -> Caller:
    """The caller, if its token holds any one of ``allowed``; else 403 ``Authorization_RequestDenied``."""
    caller = authenticate(request)
    if caller.permissions.isdisjoint(allowed):
        raise denied()
    return caller

"""Issuing ID tokens and access tokens with the claims the real service puts in them (spec §7).

Graph tokens are v1 (``iss`` ``https://sts.windows.net/{tid}/``); an app's own API gets v1 or v2 by its
``requestedAccessTokenVersion`` (§7.3). Delegated tokens carry ``scp``, app-only tokens ``roles`` and
``idtyp=app``; app-only ``oid``/``sub`` are the client's service principal id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from entra_simulator.jose import b64url_encode, sign_rs256
from entra_simulator.model import AppRegistration, Tenant, User
from entra_simulator.oidc.groups_claim import group_claims, wids
from entra_simulator.oidc.resources import Resource
from entra_simulator.state import Simulator


@dataclass(frozen=True)
class Issuer:
    """Where tokens come from: the simulator origin stands in for ``https://login.microsoftonline.com``."""

    origin: str
    tenant: Tenant

    @property
    def v2(self) -> str:
        return f"{self.origin}/{self.tenant.id}/v2.0"

    @property
    def v1(self) -> str:
        return f"https://sts.windows.net/{self.tenant.id}/"


def pairwise_sub(user_id: str, app_id: str) -> str:
    """``sub`` is pairwise per user and app (spec §7.2)."""
    return b64url_encode(hashlib.sha256(f"{user_id}|{app_id}".encode()).digest())[:43]


def client_info(user: User, tenant: Tenant) -> str:
    """base64url JSON ``{"uid","utid"}``: MSAL's home_account_id (spec §3, §9.4)."""
    raw = json.dumps({"uid": user.id, "utid": tenant.id}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(sim: Simulator, claims: dict[str, Any], v1: bool) -> str:
    key = sim.keys.current
    header = {"kid": key.kid, **({"x5t": key.kid} if v1 else {})}
    return sign_rs256(claims, key.private_key, header)


def _times(sim: Simulator, lifetime: int) -> dict[str, int]:
    now = sim.now()
    return {"iat": now - 300, "nbf": now - 300, "exp": now + lifetime}


def _opaque() -> str:
    return b64url_encode(secrets.token_bytes(24))


def id_token(
    sim: Simulator, iss: Issuer, app: AppRegistration, user: User, *, nonce: str | None, scopes: tuple[str, ...]
) -> str:
    claims: dict[str, Any] = {"aud": app.app_id, "iss": iss.v2, **_times(sim, 3600)}
    # name, oid and preferred_username: MSAL builds its account from them (spec §9.4)
    claims.update({"name": user.props.get("displayName"), "oid": user.id, "preferred_username": sign_in_name(user)})
    claims.update({"rh": _opaque(), "sub": pairwise_sub(user.id, app.app_id), "tid": iss.tenant.id})
    claims.update({"uti": _opaque()[:22], "ver": "2.0", "aio": _opaque(), "sid": str(uuid.uuid4())})
    if nonce is not None:
        claims["nonce"] = nonce
    claims.update(_optional_user_claims(iss.tenant, app, user, "idToken", scopes))
    claims.update(group_claims(sim, iss.tenant, app, user, "idToken"))
    return _sign(sim, claims, v1=False)


def _optional_user_claims(
    tenant: Tenant, app: AppRegistration, user: User, token_type: str, scopes: tuple[str, ...]
) -> dict[str, Any]:
    wanted = {c.get("name") for c in app.optional_claims.get(token_type, [])}
    mail = user.props.get("mail") or (user.props.get("otherMails") or [None])[0]
    out: dict[str, Any] = {}
    if mail and (user.is_guest or "email" in wanted or "email" in scopes):
        out["email"] = mail
    if user.is_guest:
        domain = str(mail or "guest@external.example").split("@")[-1]
        out["idp"] = f"https://sts.windows.net/{uuid.uuid5(uuid.NAMESPACE_DNS, domain)}/"
    simple = {
        "given_name": user.props.get("givenName"),
        "family_name": user.props.get("surname"),
        "upn": user.upn,
        "acct": 1 if user.is_guest else 0,
        "ctry": tenant.country,
        "login_hint": _opaque(),
        "idtyp": "user",
    }
    out.update({k: v for k, v in simple.items() if k in wanted and v is not None})
    return out


def user_access_token(
    sim: Simulator,
    iss: Issuer,
    client: AppRegistration,
    resource: Resource,
    user: User,
    scopes: list[str],
    appidacr: str,
) -> str:
    claims: dict[str, Any] = {"aud": resource.aud, **_times(sim, sim.settings.access_token_lifetime)}
    claims.update({"aio": _opaque(), "name": user.props.get("displayName"), "oid": user.id, "rh": _opaque()})
    claims.update({"scp": " ".join(sorted(scopes)), "sub": pairwise_sub(user.id, resource.app_id)})
    claims.update({"tid": iss.tenant.id, "uti": _opaque()[:22]})
    v1 = resource.version != 2
    if v1:
        claims.update({"iss": iss.v1, "appid": client.app_id, "appidacr": appidacr, "acr": "1", "amr": ["pwd"]})
        claims.update({"app_displayname": client.display_name, "idtyp": "user", "ver": "1.0"})
        claims.update({"unique_name": user.upn, "upn": user.upn, "ipaddr": "127.0.0.1"})
        claims.update(
            {
                k: v
                for k, v in (("given_name", user.props.get("givenName")), ("family_name", user.props.get("surname")))
                if v
            }
        )
    else:
        claims.update({"iss": iss.v2, "azp": client.app_id, "azpacr": appidacr, "ver": "2.0"})
        claims["preferred_username"] = sign_in_name(user)
    if resource.app is not None:
        claims.update(_resource_user_claims(sim, iss.tenant, resource.app, user))
    if (
        user.directory_roles
        and resource.app is not None
        and (resource.app.group_membership_claims or "")
        in (
            "All",
            "DirectoryRole",
        )
    ):
        claims["wids"] = wids(user)
    return _sign(sim, claims, v1=v1)


def _resource_user_claims(sim: Simulator, tenant: Tenant, api: AppRegistration, user: User) -> dict[str, Any]:
    claims = group_claims(sim, tenant, api, user, "accessToken")
    sp = tenant.service_principals.get(api.app_id)
    if sp is not None and "roles" not in claims:
        mine = {user.id, *sim.directory.transitive_groups(tenant, user.id)}
        roles = sorted({role for principal, role in sp.user_roles if principal in mine})
        if roles:
            claims["roles"] = roles
    return claims


def app_access_token(
    sim: Simulator, iss: Issuer, client: AppRegistration, resource: Resource, roles: list[str], appidacr: str
) -> str:
    sp = sim.directory.ensure_service_principal(iss.tenant, client.app_id)
    claims: dict[str, Any] = {"aud": resource.aud, **_times(sim, sim.settings.app_token_lifetime)}
    claims.update({"aio": _opaque(), "idtyp": "app", "oid": sp.id, "rh": _opaque(), "sub": sp.id})
    claims.update({"tid": iss.tenant.id, "uti": _opaque()[:22]})
    if roles:
        claims["roles"] = sorted(roles)
    if resource.version != 2:
        claims.update({"iss": iss.v1, "appid": client.app_id, "appidacr": appidacr, "ver": "1.0"})
        claims.update({"app_displayname": client.display_name, "idp": iss.v1})
    else:
        claims.update({"iss": iss.v2, "azp": client.app_id, "azpacr": appidacr, "ver": "2.0"})
    return _sign(sim, claims, v1=resource.version != 2)


def sign_in_name(user: User) -> str:
    """``preferred_username``: the UPN, or for a guest the address they sign in with at home (not #EXT#)."""
    if user.is_guest and isinstance(user.props.get("mail"), str):
        return str(user.props["mail"])
    return user.upn

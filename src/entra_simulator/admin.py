"""The admin API under ``/_simulator`` (issue 3 §4): change the directory, consent, keys, secrets and faults.

Every directory mutation goes through :class:`~entra_simulator.store.Directory` so the change log, and with it
``/users/delta`` and ``/groups/delta``, sees exactly what was done. Meant for loopback use by tests and
``koppel simulator admin``; it has no authentication, like the rest of the simulator.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request

from entra_simulator.faults import FaultRule
from entra_simulator.model import AppRegistration, Group, Tenant, User
from entra_simulator.seed import make_group, make_user, resolve_ref
from entra_simulator.state import Simulator
from entra_simulator.summary import summary, tenant_summary

router = APIRouter(prefix="/_simulator", tags=["admin"])
SETTABLE = ("group_claim_limit", "unsynced_groups_as_ids", "delta_token_ttl_seconds", "page_size", "allow_pick")


def _sim(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim


def _tenant(sim: Simulator, key: str) -> Tenant:
    tenant = sim.directory.tenant(key)
    if tenant is None:
        known = ", ".join(t.initial_domain for t in sim.directory.tenants.values())
        raise HTTPException(404, f"No tenant '{key}'. Use a tenant id or domain; known: {known}.")
    return tenant


def _user(tenant: Tenant, key: str) -> User:
    user = tenant.find_user(key)
    if user is None:
        raise HTTPException(404, f"No user '{key}' in tenant {tenant.initial_domain}; use an object id or UPN.")
    return user


def _group(tenant: Tenant, key: str) -> Group:
    group = tenant.groups.get(key) or next(
        (g for g in tenant.groups.values() if g.display_name.lower() == key.lower()), None
    )
    if group is None:
        raise HTTPException(404, f"No group '{key}' in tenant {tenant.initial_domain}; use an object id or name.")
    return group


def _app(sim: Simulator, app_id: str) -> AppRegistration:
    app = sim.directory.apps.get(app_id)
    if app is None:
        raise HTTPException(404, f"No app registration with appId '{app_id}'.")
    return app


def _user_out(user: User) -> dict[str, Any]:
    return {**user.props, "memberOf": sorted(user.member_of)}


# --- overview and settings -------------------------------------------------------------------------------
@router.get("/tenants")
def tenants(request: Request) -> list[dict[str, Any]]:
    sim = _sim(request)
    return summary(sim.directory, sim.clock())


@router.get("/tenants/{tenant}")
def tenant_detail(tenant: str, request: Request) -> dict[str, Any]:
    sim = _sim(request)
    return tenant_summary(_tenant(sim, tenant), sim.clock())


@router.patch("/settings")
def update_settings(request: Request, changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
    sim = _sim(request)
    unknown = set(changes) - set(SETTABLE)
    if unknown:
        raise HTTPException(400, f"Unknown setting(s) {sorted(unknown)}; settable: {', '.join(SETTABLE)}.")
    for name, value in changes.items():
        setattr(sim.settings, name, type(getattr(sim.settings, name))(value))
    return {name: getattr(sim.settings, name) for name in SETTABLE}


# --- users -----------------------------------------------------------------------------------------------
@router.post("/tenants/{tenant}/users", status_code=201)
def add_user(tenant: str, request: Request, spec: dict[str, Any] = Body(...)) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    user = make_user(t, spec)
    if t.find_user(user.upn) or user.id in t.users:
        raise HTTPException(409, f"A user with userPrincipalName '{user.upn}' or id '{user.id}' already exists.")
    return _user_out(sim.directory.add_user(t, user))


@router.patch("/tenants/{tenant}/users/{user}")
def update_user(tenant: str, user: str, request: Request, changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    found = _user(t, user)
    new_upn = changes.get("userPrincipalName")
    if new_upn and (other := t.find_user(new_upn)) is not None and other.id != found.id:
        raise HTTPException(409, f"userPrincipalName '{new_upn}' is already used by {other.id}.")
    return _user_out(sim.directory.update_user(t, found, changes))


@router.post("/tenants/{tenant}/users/{user}/disable")
def disable_user(tenant: str, user: str, request: Request) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    return _user_out(sim.directory.update_user(t, _user(t, user), {"accountEnabled": False}))


@router.delete("/tenants/{tenant}/users/{user}")
def delete_user(tenant: str, user: str, request: Request) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    found = _user(t, user)
    sim.directory.delete_user(t, found)
    return {"deleted": found.id, "userPrincipalName": found.upn}


# --- groups and members ----------------------------------------------------------------------------------
@router.post("/tenants/{tenant}/groups", status_code=201)
def add_group(tenant: str, request: Request, spec: dict[str, Any] = Body(...)) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    group = make_group(t, spec)
    if group.id in t.groups:
        raise HTTPException(409, f"A group with id '{group.id}' already exists.")
    sim.directory.add_group(t, group)
    return dict(group.props)


@router.delete("/tenants/{tenant}/groups/{group}")
def delete_group(tenant: str, group: str, request: Request) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    found = _group(t, group)
    sim.directory.delete_group(t, found)
    return {"deleted": found.id, "displayName": found.display_name}


@router.post("/tenants/{tenant}/groups/{group}/members")
def add_member(tenant: str, group: str, request: Request, body: dict[str, str] = Body(...)) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    found = _group(t, group)
    member = _member(t, body.get("member", ""))
    if member == found.id:
        raise HTTPException(400, "A group cannot be a member of itself.")
    added = sim.directory.add_member(t, found, member)
    return {"group": found.id, "member": member, "changed": added, "memberCount": len(found.members)}


@router.delete("/tenants/{tenant}/groups/{group}/members/{member}")
def remove_member(tenant: str, group: str, member: str, request: Request) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    found = _group(t, group)
    member_id = _member(t, member)
    removed = sim.directory.remove_member(t, found, member_id)
    return {"group": found.id, "member": member_id, "changed": removed, "memberCount": len(found.members)}


def _member(tenant: Tenant, ref: str) -> str:
    names = {g.display_name.lower(): g.id for g in tenant.groups.values()}
    member = resolve_ref(tenant, names, ref)
    if member is None:
        raise HTTPException(404, f"No user or group '{ref}' in tenant {tenant.initial_domain}.")
    return member


# --- apps, consent, keys, secrets ------------------------------------------------------------------------
@router.post("/apps/{app_id}/redirect-uris")
def add_redirect_uri(app_id: str, request: Request, body: dict[str, str] = Body(...)) -> dict[str, Any]:
    app = _app(_sim(request), app_id)
    uri = body.get("uri", "")
    if not uri.startswith(("https://", "http://localhost", "http://127.0.0.1")):
        raise HTTPException(400, f"Redirect URI '{uri}' must use https (http only for localhost), as in Entra.")
    if uri not in app.redirect_uris:
        app.redirect_uris.append(uri)
    return {"appId": app.app_id, "redirectUris": app.redirect_uris}


@router.post("/tenants/{tenant}/consent/{app_id}")
def grant_consent(tenant: str, app_id: str, request: Request) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    sp = sim.directory.grant_consent(t, _app(sim, app_id))
    return {"tenant": t.id, "appId": app_id, "servicePrincipal": sp.id, "appRoles": sorted(v for _, v in sp.app_roles)}


@router.delete("/tenants/{tenant}/consent/{app_id}")
def revoke_consent(tenant: str, app_id: str, request: Request) -> dict[str, Any]:
    sim = _sim(request)
    t = _tenant(sim, tenant)
    sim.directory.revoke_consent(t, _app(sim, app_id))
    return {"tenant": t.id, "appId": app_id, "revoked": True}


@router.post("/keys/rotate")
def rotate_keys(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    fresh = sim.keys.rotate()
    return {"signing_kid": fresh.kid, "published": [k["kid"] for k in sim.keys.jwks("")["keys"]]}


@router.post("/apps/{app_id}/secrets/expire")
def expire_secret(app_id: str, request: Request, body: dict[str, str] | None = Body(None)) -> dict[str, Any]:
    sim = _sim(request)
    app = _app(sim, app_id)
    key_id = (body or {}).get("keyId")
    chosen = [s for s in app.secrets if key_id in (None, s.key_id)]
    if not chosen:
        raise HTTPException(404, f"App '{app_id}' has no secret with keyId '{key_id}'.")
    past = datetime.fromtimestamp(sim.clock(), UTC) - timedelta(seconds=1)
    for secret in chosen:
        secret.end = past
    return {"appId": app_id, "expired": [s.key_id for s in chosen], "endDateTime": past.isoformat()}


# --- faults ----------------------------------------------------------------------------------------------
@router.get("/faults")
def list_faults(request: Request) -> list[dict[str, Any]]:
    return [r.to_dict() for r in _sim(request).faults.rules()]


@router.post("/faults", status_code=201)
def set_fault(request: Request, spec: dict[str, Any] = Body(...)) -> dict[str, Any]:
    sim = _sim(request)
    allowed = {k for k in asdict(FaultRule("error")) if not k.startswith("_") and k != "id"}
    unknown = set(spec) - allowed
    if unknown:
        raise HTTPException(400, f"Unknown fault field(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}.")
    if spec.get("tenant", "*") != "*":
        spec["tenant"] = _tenant(sim, spec["tenant"]).id
    try:
        rule = FaultRule(**spec)
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from exc
    return sim.faults.add(rule).to_dict()


@router.delete("/faults")
def clear_faults(request: Request, tenant: str | None = None) -> dict[str, Any]:
    sim = _sim(request)
    tid = _tenant(sim, tenant).id if tenant and tenant != "*" else tenant
    return {"cleared": sim.faults.clear(tid)}

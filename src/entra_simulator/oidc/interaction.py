"""The signed-in user of an authorize or admin-consent request: login form, session cookie, user check.

Spec §3: the form fields are named ``login`` and ``passwd`` as Entra's are; ``login_hint`` prefills,
``domain_hint`` picks the tenant whose accounts are offered; errors are AADSTS50034 (unknown user),
50126 (bad password), 50057 (disabled account).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from entra_simulator.errors import AadError
from entra_simulator.model import Tenant, User
from entra_simulator.oidc.pages import render
from entra_simulator.state import Simulator

COOKIE = "ESTSAUTH"
PICK_LIMIT = 25


def login_page(sim: Simulator, request: Request, ctx_id: str, error: AadError | None = None) -> Response:
    ctx = sim.pending[ctx_id]
    tenants = _candidate_tenants(sim, ctx)
    users: list[User] = []
    if sim.settings.allow_pick:
        for tenant in tenants:
            users += [u for u in list(tenant.users.values())[:PICK_LIMIT] if u.enabled]
    return render(
        "login.html",
        ctx=ctx_id,
        action=f"/{ctx['segment']}/login",
        tenant_name=tenants[0].display_name if len(tenants) == 1 else "",
        login_hint=ctx.get("login_hint") or "",
        users=users[: PICK_LIMIT * 2],
        error=f"AADSTS{error.code}: {error.message}" if error else None,
    )


def _candidate_tenants(sim: Simulator, ctx: dict[str, Any]) -> list[Tenant]:
    for key in (ctx.get("tenant"), ctx.get("domain_hint")):
        if key and (tenant := sim.directory.tenant(key)):
            return [tenant]
    return list(sim.directory.tenants.values())


def home_tenant(sim: Simulator, ctx: dict[str, Any], login: str) -> Tenant | None:
    """Home-realm discovery: the request's tenant, else the tenant owning the UPN's domain."""
    if ctx.get("tenant"):
        return sim.directory.tenant(ctx["tenant"])
    return sim.directory.tenant(login.rsplit("@", 1)[-1]) if "@" in login else None


def check_user(sim: Simulator, ctx: dict[str, Any], form: dict[str, str]) -> tuple[Tenant, User]:
    if form.get("pick") and sim.settings.allow_pick:
        for tenant in _candidate_tenants(sim, ctx):
            if (user := tenant.users.get(form["pick"])) is not None:
                return tenant, _enabled(user)
    login = form.get("login", "").strip()
    tenant = home_tenant(sim, ctx, login)
    user = tenant.find_user(login) if tenant and login else None
    if user is None and tenant and login and (guest := tenant.find_user_by_mail(login)) and guest.is_guest:
        user = guest  # a guest signs in with their own address, not the #EXT# UPN
    if user is None and ctx.get("tenant") and "@" in login:
        # An account of another tenant authenticates at its home tenant; the caller then refuses
        # it for this tenant with AADSTS50020 (spec §5), as the real service does.
        tenant = sim.directory.tenant(login.rsplit("@", 1)[-1])
        user = tenant.find_user(login) if tenant else None
    if tenant is None or user is None:
        raise AadError(
            "invalid_grant",
            50034,
            "We couldn't find an account with that username. The user account does not exist in the directory.",
        )
    password = form.get("passwd", "")
    if user.password is None or not hmac.compare_digest(user.password.encode(), password.encode()):
        raise AadError(
            "invalid_grant",
            50126,
            "Your account or password is incorrect. Error validating credentials due to invalid username or password.",
        )
    return tenant, _enabled(user)


def _enabled(user: User) -> User:
    if not user.enabled:
        raise AadError(
            "invalid_grant",
            50057,
            "The user account is disabled. Your account has been locked. "
            "Contact your support person to unlock it, then try again.",
        )
    return user


def current_session(sim: Simulator, request: Request) -> dict[str, Any] | None:
    return sim.sessions.get(request.cookies.get(COOKIE, ""))


def start_session(sim: Simulator, response: Response, tenant: Tenant, user: User) -> None:
    sid = secrets.token_urlsafe(24)
    sim.sessions[sid] = {"tenant": tenant.id, "user": user.id}
    response.set_cookie(COOKIE, sid, httponly=True, samesite="lax")


def session_user(sim: Simulator, session: dict[str, Any] | None, ctx: dict[str, Any]) -> tuple[Tenant, User] | None:
    """The signed-in user, if still valid and compatible with the request's tenant and login_hint."""
    if session is None:
        return None
    tenant = sim.directory.tenant(session["tenant"])
    user = tenant.users.get(session["user"]) if tenant else None
    if tenant is None or user is None or not user.enabled:
        return None
    if ctx.get("tenant") and ctx["tenant"] != tenant.id:
        return None
    hint = ctx.get("login_hint")
    if hint and hint.lower() != user.upn.lower():
        return None
    return tenant, user

"""The admin-consent endpoint (spec §5): ``/{tenant}/v2.0/adminconsent`` and the legacy ``/{tenant}/adminconsent``.

An admin signs in, sees the app's permissions and accepts or cancels. Accept grants what "Grant admin consent"
in the portal grants and redirects with ``admin_consent=True&tenant=<tid>&scope=...&state``; cancel redirects
with the observed failure form ``error=access_denied`` (AADSTS65004) plus ``admin_consent=True`` and no
``tenant``. A signed-in user without an admin role gets AADSTS90094; an admin of another tenant AADSTS50020.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from entra_simulator.errors import AadError
from entra_simulator.model import GLOBAL_ADMIN, Tenant, User
from entra_simulator.oidc import interaction
from entra_simulator.oidc.http import sim_of, unknown_tenant
from entra_simulator.oidc.pages import error_page, error_params, render
from entra_simulator.oidc.redirects import check_redirect_uri
from entra_simulator.state import Simulator

router = APIRouter()
ADMIN_ROLES = {
    GLOBAL_ADMIN,
    "Privileged Role Administrator",
    "Cloud Application Administrator",
    "Application Administrator",
}


@router.get("/{segment}/v2.0/adminconsent")
def admin_consent_v2(segment: str, request: Request) -> Response:
    return _start(sim_of(request), request, segment, legacy=False)


@router.get("/{segment}/adminconsent")
def admin_consent_legacy(segment: str, request: Request) -> Response:
    return _start(sim_of(request), request, segment, legacy=True)


def _start(sim: Simulator, request: Request, segment: str, *, legacy: bool) -> Response:
    params = dict(request.query_params)
    tenant: Tenant | None = None
    try:
        if segment.lower() == "common" and not legacy:
            raise AadError(
                "invalid_request", 90130, "Application does not support the 'common' endpoint for adminconsent."
            )
        if segment.lower() not in ("common", "organizations"):
            tenant = sim.directory.tenant(segment)
            if tenant is None:
                raise unknown_tenant(segment)
        app = sim.directory.apps.get(params.get("client_id", ""))
        if app is None:
            raise AadError(
                "unauthorized_client",
                700016,
                f"Application with identifier '{params.get('client_id')}' was not found in the directory.",
            )
        redirect_uri = check_redirect_uri(app, params.get("redirect_uri"))
    except AadError as error:
        return error_page(error)
    ctx = {
        "kind": "adminconsent",
        "segment": segment,
        "tenant": tenant.id if tenant else None,
        "client_id": app.app_id,
        "redirect_uri": redirect_uri,
        "state": params.get("state"),
        "scope": params.get("scope", ""),
        "legacy": legacy,
        "response_mode": "query",
    }
    ctx_id = secrets.token_urlsafe(16)
    sim.pending[ctx_id] = ctx
    found = interaction.session_user(sim, interaction.current_session(sim, request), ctx)
    if found and params.get("prompt") != "login":
        return after_login(sim, request, ctx_id, *found)
    return interaction.login_page(sim, request, ctx_id)


def after_login(sim: Simulator, request: Request, ctx_id: str, tenant: Tenant, user: User) -> Response:
    """Signed in: refuse non-admins, otherwise show the organisation-wide consent page."""
    ctx = sim.pending[ctx_id]
    if ctx["tenant"] and ctx["tenant"] != tenant.id:  # an admin of another tenant (spec §5, I-ADMERR)
        sim.pending.pop(ctx_id, None)
        return _failure(ctx, foreign_account(sim, ctx, tenant, user))
    if not ADMIN_ROLES & set(user.directory_roles):
        sim.pending.pop(ctx_id, None)
        return _failure(
            ctx,
            AadError(
                "access_denied",
                90094,
                "The grant requires admin permission. Ask an administrator of your organization to grant consent.",
            ),
        )
    app = sim.directory.apps[ctx["client_id"]]
    permissions = [f"{p.value} ({'application' if p.kind == 'Role' else 'delegated'})" for p in app.required]
    return render(
        "consent.html",
        ctx=ctx_id,
        action=f"/{ctx['segment']}/consent",
        app_name=app.display_name,
        user_upn=user.upn,
        permissions=permissions or ["Sign in and read user profile"],
        admin=True,
    )


def foreign_account(sim: Simulator, ctx: dict[str, Any], home: Tenant, user: User) -> AadError:
    """AADSTS50020: an account of ``home`` tried to sign in to the request's tenant."""
    target = sim.directory.tenants[str(ctx["tenant"])]
    app_name = sim.directory.apps[str(ctx["client_id"])].display_name
    return AadError(
        "access_denied",
        50020,
        f"User account '{user.upn}' from identity provider 'https://sts.windows.net/{home.id}/' does not "
        f"exist in tenant '{target.display_name}' and cannot access the application "
        f"'{ctx['client_id']}'({app_name}) in that tenant.",
    )


def decide(sim: Simulator, ctx_id: str, tenant: Tenant, user: User, accept: bool) -> Response:
    ctx = sim.pending.pop(ctx_id)
    if not accept:
        return _failure(ctx, AadError("access_denied", 65004, "User declined to consent to access the app."))
    app = sim.directory.apps[ctx["client_id"]]
    sim.directory.grant_consent(tenant, app)
    params = {"admin_consent": "True", "tenant": tenant.id}
    if not ctx["legacy"]:
        params["scope"] = ctx["scope"]
    if ctx.get("state") is not None:
        params["state"] = ctx["state"]
    return _redirect(ctx["redirect_uri"], params)


def _failure(ctx: dict[str, object], error: AadError) -> Response:
    state = ctx.get("state")
    params = {**error_params(error, None), "admin_consent": "True"}
    if isinstance(state, str):
        params["state"] = state
    return _redirect(str(ctx["redirect_uri"]), params)


def _redirect(uri: str, params: dict[str, str]) -> Response:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{separator}{urlencode(params)}", status_code=302)

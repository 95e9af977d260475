"""``/authorize`` with its login and consent pages (spec §3, §9.5).

Validation order follows Entra: an unknown tenant, unknown app or unregistered redirect URI is shown on an
error page (never redirected); everything after that goes back to the app (``query``/``fragment``/
``form_post``) with ``state``. A code is single-use and lives 10 minutes (spec §3).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from entra_simulator.errors import AadError
from entra_simulator.model import PermissionGrant, Tenant, User
from entra_simulator.oidc import admin_consent, interaction
from entra_simulator.oidc.discovery import SPECIAL_TENANTS
from entra_simulator.oidc.grants import CODE_PREFIX, missing_consent
from entra_simulator.oidc.http import origin, sim_of, unknown_tenant
from entra_simulator.oidc.pages import error_page, error_params, render, respond
from entra_simulator.oidc.redirects import check_redirect_uri
from entra_simulator.oidc.resources import parse_scopes
from entra_simulator.oidc.tokens import client_info
from entra_simulator.state import Simulator

router = APIRouter()
PARAMS = (
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "response_mode",
    "prompt",
    "login_hint",
    "domain_hint",
    "code_challenge",
    "code_challenge_method",
    "client_info",
)


async def request_params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.form()).items()})
    return params


def _validate(sim: Simulator, segment: str, params: dict[str, str]) -> dict[str, Any]:
    tenant: Tenant | None = None
    if segment.lower() not in SPECIAL_TENANTS:
        tenant = sim.directory.tenant(segment)
        if tenant is None:
            raise unknown_tenant(segment)
    app = sim.directory.apps.get(params.get("client_id", ""))
    if app is None or (tenant is not None and tenant.id != app.tenant_id and app.sign_in_audience == "AzureADMyOrg"):
        raise AadError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{params.get('client_id')}' "
            "was not found in the directory. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant.",
        )
    ctx = {k: params[k] for k in PARAMS if k in params}
    ctx.update(segment=segment, tenant=tenant.id if tenant else None, kind="authorize")
    ctx["redirect_uri"] = check_redirect_uri(app, params.get("redirect_uri"))
    ctx.setdefault("response_mode", "query")
    return ctx


@router.api_route("/{segment}/oauth2/v2.0/authorize", methods=["GET", "POST"])
async def authorize(segment: str, request: Request) -> Response:
    sim = sim_of(request)
    params = await request_params(request)
    try:
        ctx = _validate(sim, segment, params)
    except AadError as error:
        return error_page(error)
    if ctx.get("response_type", "code") != "code":
        return fail(
            ctx,
            AadError(
                "unsupported_response_type", 700054, "response_type 'id_token' is not enabled for the application."
            ),
        )
    ctx_id = secrets.token_urlsafe(16)
    sim.pending[ctx_id] = ctx
    return resume(sim, request, ctx_id)


def resume(sim: Simulator, request: Request, ctx_id: str) -> Response:
    """Use the session if the request allows it; otherwise show the login page (or fail for prompt=none)."""
    ctx = sim.pending[ctx_id]
    prompt = ctx.get("prompt")
    found = interaction.session_user(sim, interaction.current_session(sim, request), ctx)
    if found and prompt not in ("login", "select_account"):
        return after_login(sim, request, ctx_id, *found)
    if prompt == "none":
        return fail(
            ctx, AadError("login_required", 50058, "A silent sign-in request was sent but no user is signed in.")
        )
    return interaction.login_page(sim, request, ctx_id)


@router.post("/{segment}/login")
async def login(segment: str, request: Request) -> Response:
    sim = sim_of(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    ctx_id = form.get("ctx", "")
    if ctx_id not in sim.pending:
        return error_page(
            AadError(
                "invalid_request",
                50058,
                "Session information is not sufficient for "
                "single-sign-on. Start the sign-in again from the application.",
            )
        )
    try:
        tenant, user = interaction.check_user(sim, sim.pending[ctx_id], form)
    except AadError as error:
        return interaction.login_page(sim, request, ctx_id, error)
    response = after_login(sim, request, ctx_id, tenant, user)
    interaction.start_session(sim, response, tenant, user)
    return response


def after_login(sim: Simulator, request: Request, ctx_id: str, tenant: Tenant, user: User) -> Response:
    ctx = sim.pending[ctx_id]
    ctx.update(user=user.id, user_tenant=tenant.id)
    if ctx["kind"] == "adminconsent":
        return admin_consent.after_login(sim, request, ctx_id, tenant, user)
    if ctx.get("tenant") and ctx["tenant"] != tenant.id:
        sim.pending.pop(ctx_id, None)
        return error_page(admin_consent.foreign_account(sim, ctx, tenant, user))
    scopes = parse_scopes(sim.directory, ctx.get("scope", "openid profile"), origin(request))
    missing = missing_consent(tenant, ctx["client_id"], scopes, user)
    if missing or ctx.get("prompt") == "consent":
        if ctx.get("prompt") == "none":
            return fail(
                ctx,
                AadError(
                    "consent_required",
                    65001,
                    "The user or administrator has not consented "
                    f"to use the application with ID '{ctx['client_id']}'. Send an interactive "
                    "authorization request for this user and resource.",
                ),
            )
        ctx["missing"] = sorted(missing)
        app = sim.directory.apps[ctx["client_id"]]
        return render(
            "consent.html",
            ctx=ctx_id,
            action=f"/{ctx['segment']}/consent",
            app_name=app.display_name,
            user_upn=user.upn,
            permissions=sorted(missing) or ["Sign you in and read your profile"],
            admin=False,
        )
    return issue_code(sim, ctx_id, tenant, user)


@router.post("/{segment}/consent")
async def consent(segment: str, request: Request) -> Response:
    sim = sim_of(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    ctx = sim.pending.get(form.get("ctx", ""))
    if ctx is None or "user" not in ctx:
        return error_page(AadError("invalid_request", 50058, "Session information is not sufficient."))
    tenant = sim.directory.tenants[ctx["user_tenant"]]
    user = tenant.users[ctx["user"]]
    if ctx["kind"] == "adminconsent":
        return admin_consent.decide(sim, form["ctx"], tenant, user, form.get("consent") == "accept")
    if form.get("consent") != "accept":
        return fail(ctx, AadError("access_denied", 65004, "User declined to consent to access the app."))
    scopes = parse_scopes(sim.directory, ctx.get("scope", ""), origin(request))
    with sim.directory.lock:
        sim.directory.ensure_service_principal(tenant, ctx["client_id"])
        grant = PermissionGrant(ctx["client_id"], scopes.resource.app_id, set(ctx.get("missing", [])), user.id)
        tenant.grants.append(grant)
    return issue_code(sim, form["ctx"], tenant, user)


def issue_code(sim: Simulator, ctx_id: str, tenant: Tenant, user: User) -> Response:
    ctx = sim.pending.pop(ctx_id)
    code = CODE_PREFIX + secrets.token_urlsafe(64)
    sim.codes[code] = {
        **ctx,
        "tenant": tenant.id,
        "user": user.id,
        "issued": sim.clock(),
        "scope": ctx.get("scope", "openid profile"),
    }
    params = {"code": code, "state": ctx.get("state"), "session_state": secrets.token_hex(16)}
    if ctx.get("client_info") == "1":
        params["client_info"] = client_info(user, tenant)
    return respond(ctx["redirect_uri"], params, ctx["response_mode"])


def fail(ctx: dict[str, Any], error: AadError) -> Response:
    return respond(ctx["redirect_uri"], error_params(error, ctx.get("state")), ctx.get("response_mode", "query"))

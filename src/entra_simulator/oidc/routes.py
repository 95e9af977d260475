"""Sign-in endpoints without a user interface: discovery, keys, token, logout (spec §1, §2, §4, §6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from entra_simulator.errors import AadError
from entra_simulator.jose import JoseError, split
from entra_simulator.model import Tenant
from entra_simulator.oidc import grants, redirects
from entra_simulator.oidc.client_auth import authenticate
from entra_simulator.oidc.discovery import SPECIAL_TENANTS, v1_configuration, v2_configuration
from entra_simulator.oidc.http import find_tenant, headers, origin, sim_of, unknown_tenant
from entra_simulator.oidc.tokens import Issuer
from entra_simulator.state import Simulator

router = APIRouter()
DISCOVERY_HEADERS = {"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*"}
NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}

GRANTS = {
    "client_credentials": grants.client_credentials,
    "authorization_code": grants.authorization_code,
    "refresh_token": grants.refresh_token,
    grants.OBO_GRANT: grants.on_behalf_of,
}


def _tid(request: Request, segment: str) -> str | None:
    if segment.lower() in SPECIAL_TENANTS:
        return None
    return find_tenant(request, segment).id


def _json(request: Request, body: dict[str, Any], extra: dict[str, str]) -> JSONResponse:
    return JSONResponse(body, headers={**extra, **headers(request)})


@router.get("/{segment}/v2.0/.well-known/openid-configuration")
def discovery_v2(segment: str, request: Request) -> JSONResponse:
    return _json(request, v2_configuration(origin(request), segment, _tid(request, segment)), DISCOVERY_HEADERS)


@router.get("/{segment}/.well-known/openid-configuration")
def discovery_v1(segment: str, request: Request) -> JSONResponse:
    return _json(request, v1_configuration(origin(request), segment, _tid(request, segment)), DISCOVERY_HEADERS)


@router.get("/{segment}/discovery/v2.0/keys")
def keys_v2(segment: str, request: Request) -> JSONResponse:
    tid = _tid(request, segment)
    issuer = f"{origin(request)}/{tid or '{tenantid}'}/v2.0"
    return _json(request, sim_of(request).keys.jwks(issuer), DISCOVERY_HEADERS)


@router.get("/{segment}/discovery/keys")
def keys_v1(segment: str, request: Request) -> JSONResponse:
    tid = _tid(request, segment)
    return _json(
        request, sim_of(request).keys.jwks(f"https://sts.windows.net/{tid or '{tenantid}'}/"), DISCOVERY_HEADERS
    )


def _token_tenant(sim: Simulator, request: Request, segment: str, form: dict[str, str]) -> Tenant:
    """``common``/``organizations``: the tenant comes from the code, refresh token or assertion."""
    if segment.lower() not in SPECIAL_TENANTS:
        return find_tenant(request, segment)
    tid: str | None = None
    if form.get("code") in sim.codes:
        tid = sim.codes[form["code"]]["tenant"]
    elif form.get("refresh_token") in sim.refresh_tokens:
        tid = sim.refresh_tokens[form["refresh_token"]]["tenant"]
    elif form.get("assertion"):
        try:
            tid = str(split(form["assertion"])[1].get("tid"))
        except JoseError:
            tid = None
    tenant = sim.directory.tenant(tid) if tid else None
    if tenant is None:
        raise AadError(
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        )
    return tenant


@router.post("/{segment}/oauth2/v2.0/token")
async def token(segment: str, request: Request) -> JSONResponse:
    sim = sim_of(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    tenant = _token_tenant(sim, request, segment, form)
    grant_type = form.get("grant_type", "")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise AadError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")
    public_ok = grant_type in ("authorization_code", "refresh_token")
    client = authenticate(
        sim, tenant, form, request.headers.get("authorization"), str(request.url), public_allowed=public_ok
    )
    body = handler(sim, Issuer(origin(request), tenant), client, form)
    return _json(request, body, NO_STORE)


SIGNED_OUT = """<!doctype html><html><head><title>Sign out</title></head><body>
<h1>You signed out of your account</h1><p>It's a good idea to close all browser windows.</p></body></html>"""


@router.api_route("/{segment}/oauth2/v2.0/logout", methods=["GET", "POST"])
async def logout(segment: str, request: Request) -> Response:
    """Ends the simulator's sign-in session; redirects only to a registered URI (spec §6)."""
    if segment.lower() not in SPECIAL_TENANTS and sim_of(request).directory.tenant(segment) is None:
        raise unknown_tenant(segment)
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.form()).items()})
    sim = sim_of(request)
    sim.sessions.pop(request.cookies.get("ESTSAUTH", ""), None)
    target = params.get("post_logout_redirect_uri")
    registered = {u for app in sim.directory.apps.values() for u in app.redirect_uris}
    response: Response = HTMLResponse(SIGNED_OUT)
    if target and any(redirects.matches(u, target) for u in registered):  # exact, as the real service
        response = RedirectResponse(target, status_code=302)
    response.delete_cookie("ESTSAUTH")
    return response

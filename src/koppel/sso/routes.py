"""The broker's browser pages: home-realm discovery, the IdP callback, the ``/sso/{org}`` entry link.

Thin: parse, call the broker, render. A failed login is an HTML page (and an ``sso.login.failed``
event committed with the request's transaction), never a traceback and never a redirect to a URL
koppel did not check.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from koppel.api.deps import SessionDep, SettingsDep
from koppel.errors import KoppelError
from koppel.sso import broker, clients, pages
from koppel.sso.api_routes import router as api_router
from koppel.sso.provider.routes import ORG_COOKIE, STATE_COOKIE
from koppel.sso.provider.routes import router as provider_router
from koppel.sso.runtime import SsoRuntime, in_worker, sso_runtime

router = APIRouter(tags=["sso: broker"], include_in_schema=False)


async def form_data(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(form_data)]


@router.get("/sso/discover")
def discover_page(request: Request, settings: SettingsDep) -> Response:
    """Home-realm discovery (issue 5 §2): the user types an e-mail, koppel finds the organization."""
    return _discover(request, settings.base_url.startswith("https://"), str(request.url.query))


def _discover(
    request: Request, secure: bool, query: str, *, error: str | None = None, email: str = "", status: int = 200
) -> Response:
    token = pages.csrf_token(request)
    response = pages.render(
        request, "discover", status, action="/sso/discover", csrf_token=token, authorize_query=query,
        error=error, email=email,
    )  # fmt: skip
    return pages.set_csrf_cookie(response, token, secure=secure)


@router.post("/sso/discover")
def discover_submit(request: Request, form: FormDep, session: SessionDep, settings: SettingsDep) -> Response:
    secure = settings.base_url.startswith("https://")
    query = form.get("authorize_query", "")
    if not pages.csrf_ok(request, form.get("csrf_token", "")):
        return _discover(request, secure, query, error="The form expired; please try again.", status=400)
    email = form.get("email", "").strip()
    org = broker.find_org(session=session, email=email)
    if org is None:
        error = "We don't know the organization of that address. Check it, or ask your IT admin."
        return _discover(request, secure, query, error=error, email=email, status=404)
    # Back to the authorization request, now with the organization and the typed address.
    extra = urlencode({"organization": org.slug, "login_hint": email})
    return RedirectResponse(f"/oauth2/authorize?{query}&{extra}" if query else f"/oauth2/authorize?{extra}", 303)


@router.get("/sso/callback/{connection_id}")
async def callback(connection_id: str, request: Request) -> Response:
    """The IdP's answer for one connection (its own callback URL: mix-up defence, RFC 9700 §4.4)."""
    response: Response = await in_worker(_callback, sso_runtime(request), request, connection_id)
    return response


def _callback(rt: SsoRuntime, request: Request, connection_id: str) -> Response:
    try:
        landing = broker.callback(
            rt=rt,
            connection_id=connection_id,
            params=dict(request.query_params),
            browser_state=request.cookies.get(STATE_COOKIE),
        )
    except KoppelError as exc:
        reason = getattr(exc, "reason", exc.code)
        return pages.error_page(request, title="Sign-in failed", detail=exc.detail, reason=reason, status_code=403)
    response = RedirectResponse(landing.location, status_code=303)
    response.delete_cookie(STATE_COOKIE, path="/sso/callback")
    return response


@router.get("/sso/{org}")
def entry_link(org: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The per-organization link (app tile, intranet; seed 000 §3): third-party-initiated login.

    OIDC Core §4: koppel sends the browser to the host app's ``initiate_login_uri`` with ``iss``;
    the host app starts an ordinary authorization request, which finds the organization in the
    cookie set here.
    """
    organization = broker.find_org(session=session, slug=org)
    if organization is None:
        return pages.error_page(
            request, title="Unknown organization", detail=f"no organization {org!r} here", status_code=404
        )
    client = clients.entry_client(session=session, client_id=request.query_params.get("client_id"))
    if client is None or not client.initiate_login_uri:
        detail = "the app has no sign-in start URL; register it with: koppel client create --initiate-login-uri URL"
        return pages.error_page(request, title="Sign-in link not set up", detail=detail, status_code=404)
    sep = "&" if "?" in client.initiate_login_uri else "?"
    response = RedirectResponse(f"{client.initiate_login_uri}{sep}{urlencode({'iss': settings.base_url})}", 303)
    secure = settings.base_url.startswith("https://")
    response.set_cookie(ORG_COOKIE, organization.slug, max_age=600, httponly=True, samesite="lax", secure=secure)
    return response


# The OpenID Provider's endpoints and the JSON API join this router, so app.py mounts SSO once.
router.include_router(provider_router)
router.include_router(api_router)

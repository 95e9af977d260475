"""The OpenID Provider's HTTP endpoints (OIDC Core §3.1, Discovery §4, RP-Initiated Logout §2).

Thin: parse, call one function, render. OAuth errors a client can receive are redirected to
its validated redirect URI (RFC 6749 §4.1.2.1); all others are an HTML page, never a redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from koppel.api.deps import NowDep, SecretBoxDep, SessionDep, SettingsDep
from koppel.errors import KoppelError
from koppel.sso import broker, keys, pages
from koppel.sso.provider import service
from koppel.sso.provider.context import ProviderContext
from koppel.sso.provider.server import PlainRequest, ProviderServer
from koppel.sso.runtime import SsoRuntime, in_worker, sso_runtime

router = APIRouter(tags=["sso: OpenID Provider"])
ORG_COOKIE = "koppel_org"  # set by the /sso/{org} entry link, read by the authorization request
STATE_COOKIE = "koppel_sso_state"  # binds the upstream state to this browser


async def form_data(request: Request) -> dict[str, str]:
    """The token request's form (RFC 6749 §4.1.3: urlencoded). The standard library parses it in
    a fraction of the time of Starlette's general form parser; anything else still goes there."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True))
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


@router.get("/.well-known/openid-configuration", include_in_schema=False)
def openid_configuration(settings: SettingsDep) -> dict[str, Any]:
    return service.metadata(settings.base_url)


@router.get("/oauth2/jwks", include_in_schema=False)
def jwks(session: SessionDep, settings: SettingsDep, box: SecretBoxDep, now: NowDep) -> JSONResponse:
    keys.ensure_keys(session=session, secret_box=box, now=now)  # a fresh install serves its keys at once
    return JSONResponse(keys.jwks(session=session), headers={"Cache-Control": "public, max-age=300"})


@router.get("/oauth2/authorize", include_in_schema=False)
async def authorize(request: Request) -> Response:
    response: Response = await in_worker(_authorize, sso_runtime(request), request)
    return response


def _authorize(rt: SsoRuntime, request: Request) -> Response:
    params = dict(request.query_params)
    now = rt.clock()
    with rt.statements() as session:  # reads, then the login transaction's one INSERT
        try:
            redirect_uri = service.validate_authorization(
                rt.provider(session, now), uri=str(request.url), params=params, headers=request.headers
            )
        except OAuth2Error as error:
            return oauth_error(request, error)
        slug = params.get("organization") or request.cookies.get(ORG_COOKIE)
        org = broker.find_org(session=session, slug=slug, email=params.get("login_hint"))
        if org is None and params.get("organization"):
            return pages.error_page(request, title="Unknown organization", detail=f"no organization {slug!r} here")
        if org is None:
            return RedirectResponse(f"/sso/discover?{urlencode(params)}", status_code=303)
        try:
            url, state = broker.begin(
                session=session,
                fetcher=rt.fetcher,
                settings=rt.settings,
                secret_box=rt.secret_box,
                org=org,
                request={"uri": str(request.url), "params": params, "redirect_uri": redirect_uri},
                login_hint=params.get("login_hint"),
                now=now,
                cache=rt.cache,
            )
        except KoppelError as exc:
            return pages.error_page(
                request, title="Sign-in is not available", detail=exc.detail, status_code=exc.status_code
            )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        STATE_COOKIE, state, httponly=True, samesite="lax", path="/sso/callback", secure=rt.secure_cookies
    )
    response.delete_cookie(ORG_COOKIE, path="/")
    return response


def oauth_error(request: Request, error: OAuth2Error) -> Response:
    if error.redirect_uri:
        _, _, headers = error()
        return RedirectResponse(dict(headers)["Location"], status_code=303)
    detail = error.description or error.error
    return pages.error_page(request, title="The app's sign-in request is invalid", detail=detail, reason=error.error)


@router.post("/oauth2/token", include_in_schema=False)
async def token(request: Request) -> JSONResponse:
    form = await form_data(request)
    response: JSONResponse = await in_worker(_token, sso_runtime(request), str(request.url), form, request.headers)
    return response


def _token(rt: SsoRuntime, url: str, form: dict[str, str], headers: Any) -> JSONResponse:
    with rt.transaction() as session:
        server = ProviderServer(rt.provider(session, rt.clock()))
        status, body, response_headers = server.create_token_response(PlainRequest("POST", url, form, headers))
    return JSONResponse(body, status_code=status, headers=dict(response_headers))


@router.api_route("/oauth2/userinfo", methods=["GET", "POST"], include_in_schema=False)
def userinfo(
    request: Request, session: SessionDep, settings: SettingsDep, box: SecretBoxDep, now: NowDep
) -> dict[str, Any]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    ctx = ProviderContext(session, box, settings.base_url, now)
    return service.userinfo(ctx, access_token=value.strip() if scheme.lower() == "bearer" else "")


@router.api_route("/oauth2/logout", methods=["GET", "POST"], include_in_schema=False)
def logout(request: Request, session: SessionDep, settings: SettingsDep, box: SecretBoxDep, now: NowDep) -> Response:
    params = dict(request.query_params)
    ctx = ProviderContext(session, box, settings.base_url, now)
    try:
        target = service.end_session(
            ctx,
            id_token_hint=params.get("id_token_hint"),
            client_id=params.get("client_id"),
            post_logout_redirect_uri=params.get("post_logout_redirect_uri"),
        )
    except KoppelError as exc:
        return pages.error_page(request, title="Sign-out request refused", detail=exc.detail)
    if target:
        state = params.get("state")
        return RedirectResponse(
            target + (("&" if "?" in target else "?") + urlencode({"state": state}) if state else ""), 303
        )
    return pages.render(request, "signed_out")

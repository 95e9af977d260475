"""A small host app that signs people in through koppel with a standard OIDC client (Authlib's Starlette client).

This is all a SaaS app needs: one client registration at koppel (``koppel client create``), the
discovery URL, and a callback. koppel finds each user's organization and identity provider.

    KOPPEL_ISSUER=http://127.0.0.1:8000 HOST_CLIENT_ID=… HOST_CLIENT_SECRET=… python examples/host_app.py

``/login`` starts a sign-in (``?organization=slug`` or ``?login_hint=email`` are passed on, and
``/login?iss=…`` is where koppel's ``/sso/{org}`` entry link lands); ``/`` shows who is signed in.
"""

from __future__ import annotations

import html
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from authlib.integrations.starlette_client import OAuth
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host app</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto}} dt{{font-weight:600}}</style>
</head><body><h1>Sample host app</h1>{body}</body></html>"""


class SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool, and one TLS context, for all of the app's calls to koppel.

    Authlib's Starlette client builds a new httpx client for every call and closes it afterwards;
    on its own each would open a new connection and load the CA bundle again (milliseconds of
    CPU per login). Clients built on this transport leave the pool open; the app closes it.
    """

    def __init__(self) -> None:
        self.pool = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.pool.handle_async_request(request)

    async def aclose(self) -> None:
        """A per-call client closing: the pool stays open (``lifespan`` closes it)."""


def create_app(issuer: str, client_id: str, client_secret: str, session_secret: str | None = None) -> Starlette:
    transport = SharedTransport()
    oauth = OAuth()
    oauth.register(
        "koppel",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256", "transport": transport},
    )

    async def home(request: Request) -> Response:
        user: dict[str, Any] | None = request.session.get("user")
        if not user:
            body = '<p>You are not signed in.</p><p><a id="sign-in" href="/login">Sign in with Microsoft</a></p>'
            return HTMLResponse(PAGE.format(body=body))
        org = user.get("org") or {}
        rows = {
            "Name": user.get("name"),
            "E-mail": user.get("email"),
            "Organization": org.get("name"),
            "Roles": ", ".join(user.get("roles") or []) or "(none)",
            "Signed in with": user.get("idp"),
        }
        items = "".join(
            f"<dt>{k}</dt><dd id='{k.lower().replace(' ', '-')}'>{html.escape(str(v))}</dd>" for k, v in rows.items()
        )
        welcome = f"<p id='welcome'>Welcome, {html.escape(str(user.get('name')))}.</p>"
        body = f"{welcome}<dl>{items}</dl><p><a href='/logout'>Sign out</a></p>"
        return HTMLResponse(PAGE.format(body=body))

    async def login(request: Request) -> Response:
        extra = {k: request.query_params[k] for k in ("organization", "login_hint") if k in request.query_params}
        redirect_uri = str(request.url_for("callback"))
        return await oauth.koppel.authorize_redirect(request, redirect_uri, **extra)  # type: ignore[no-any-return]

    async def callback(request: Request) -> Response:
        token = await oauth.koppel.authorize_access_token(request)
        claims = dict(token["userinfo"])  # the validated ID token's claims (Authlib checks iss, aud, nonce)
        request.session["user"] = {k: claims.get(k) for k in ("name", "email", "org", "roles", "groups", "idp")}
        request.session["id_token"] = token.get("id_token")
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> Response:
        id_token = request.session.pop("id_token", None)
        request.session.clear()
        metadata = await oauth.koppel.load_server_metadata()
        back = str(request.url_for("home"))
        query = {"post_logout_redirect_uri": back, **({"id_token_hint": id_token} if id_token else {})}
        return RedirectResponse(f"{metadata['end_session_endpoint']}?{urlencode(query)}", status_code=303)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await transport.pool.aclose()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", home, name="home"),
            Route("/login", login),
            Route("/callback", callback, name="callback"),
            Route("/logout", logout),
        ],
    )
    app.add_middleware(SessionMiddleware, secret_key=session_secret or secrets.token_urlsafe(32))
    return app


def main() -> None:
    app = create_app(os.environ["KOPPEL_ISSUER"], os.environ["HOST_CLIENT_ID"], os.environ["HOST_CLIENT_SECRET"])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("HOST_PORT", "8001")), log_level="warning")


if __name__ == "__main__":
    main()

"""The three requests of every login as a plain ASGI app in front of FastAPI.

``/oauth2/authorize``, ``/sso/callback/{connection_id}`` and ``/oauth2/token`` run the same
endpoint functions as the FastAPI routes (``koppel.sso.routes``, ``koppel.sso.provider.routes``),
but skip FastAPI's routing over every koppel route and its request wrapping, which cost as much
CPU as the login's own work (bench/sso/README.md). Every other request goes on to ``app``.
A value the database refuses (PostgreSQL: a NUL character in a parameter) is answered as FastAPI's
routes answer it (``koppel.api.problems``: 422); unexpected errors still reach Starlette's
ServerErrorMiddleware (a 500), which sits outside.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from koppel.api.problems import unstorable_value
from koppel.sso import routes
from koppel.sso.provider import routes as provider_routes

CALLBACK_PREFIX = "/sso/callback/"
CALLBACK_ROUTE = "/sso/callback/{connection_id}"  # the route template: the metrics label


class SsoLoginApp:
    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _endpoint(scope) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, endpoint = found
        start, status = time.perf_counter(), 500
        try:
            request = Request(scope, receive)
            try:
                response: Response = await endpoint(request)
            except DataError as exc:  # the transaction is rolled back already; the value was the request's
                response = await unstorable_value(request, exc)
            status = response.status_code
            await response(scope, receive, send)
        finally:
            self.state.metrics.observe(scope["method"], route, status, time.perf_counter() - start)


Endpoint = Callable[[Request], Awaitable[Response]]


def _endpoint(scope: Scope) -> tuple[str, Endpoint] | None:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    method = scope["method"]
    if path == "/oauth2/authorize" and method == "GET":
        return path, provider_routes.authorize
    if path == "/oauth2/token" and method == "POST":
        return path, provider_routes.token
    connection_id = path[len(CALLBACK_PREFIX) :] if path.startswith(CALLBACK_PREFIX) else ""
    if connection_id and "/" not in connection_id and method == "GET":

        async def callback(request: Request) -> Response:
            return await routes.callback(connection_id, request)

        return CALLBACK_ROUTE, callback
    return None

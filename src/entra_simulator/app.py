"""The simulator's ASGI app: sign-in (``/{tenant}/...``), Graph (``/v1.0/...``) and the admin API (``/_simulator``)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from entra_simulator.admin import router as admin_router
from entra_simulator.errors import AadError, GraphError
from entra_simulator.fault_middleware import RAW_SEND, FaultMiddleware
from entra_simulator.oidc import admin_consent, authorize
from entra_simulator.oidc import routes as oidc_routes
from entra_simulator.oidc.http import aad_error_response
from entra_simulator.state import Simulator


class SimulatorApp(FastAPI):
    """FastAPI that keeps the server's own ``send`` in the scope, so a fault can drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(sim: Simulator) -> FastAPI:
    app = SimulatorApp(title="Entra ID simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sim = sim
    app.add_exception_handler(AadError, _aad_error)  # type: ignore[arg-type]
    app.add_exception_handler(GraphError, _graph_error)  # type: ignore[arg-type]
    app.include_router(admin_router)
    try:  # Graph v1.0 lives in its own package (issue 3 §3); the sign-in side works without it
        from entra_simulator.graph.routes import router as graph_router
    except ImportError:
        graph_router = None
    if graph_router is not None:
        app.include_router(graph_router)
    app.include_router(oidc_routes.router)
    app.include_router(authorize.router)
    app.include_router(admin_consent.router)
    app.add_middleware(FaultMiddleware, sim=sim)
    return app


async def _aad_error(request: Request, error: AadError) -> Response:
    return aad_error_response(request, error)


async def _graph_error(request: Request, error: GraphError) -> Response:
    request_id = str(uuid.uuid4())
    client_request_id = request.headers.get("client-request-id", request_id)
    headers = {"request-id": request_id, "client-request-id": client_request_id, **error.headers}
    return JSONResponse(error.body(request_id, client_request_id), status_code=error.status_code, headers=headers)

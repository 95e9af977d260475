"""HTTP helpers shared by the sign-in routes: origin, tenant resolution, Entra-shaped error responses."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import JSONResponse

from entra_simulator.errors import AadError
from entra_simulator.model import Tenant
from entra_simulator.state import Simulator


def origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def sim_of(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim


def unknown_tenant(segment: str) -> AadError:
    """AADSTS90002 (spec §2.3)."""
    return AadError(
        "invalid_tenant",
        90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
        "subscriptions for the tenant.",
    )


def find_tenant(request: Request, segment: str) -> Tenant:
    tenant = sim_of(request).directory.tenant(segment)
    if tenant is None:
        raise unknown_tenant(segment)
    return tenant


def headers(request: Request) -> dict[str, str]:
    return {
        "x-ms-request-id": str(uuid.uuid4()),
        "x-ms-ests-server": "2.1.simulator",
        "client-request-id": request.headers.get("client-request-id", str(uuid.uuid4())),
    }


def aad_error_response(request: Request, error: AadError) -> JSONResponse:
    body = error.body(request.headers.get("client-request-id"))
    extra = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", **headers(request)}
    return JSONResponse(body, status_code=error.status_code, headers=extra)

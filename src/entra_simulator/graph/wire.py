"""Graph's wire format: JSON bytes with Graph's headers, ``@odata.context`` and the collection envelope (spec §8.1).

Bodies are assembled from already-encoded item bytes so a page of cached objects costs one ``join`` (issue 3
§6: paging must not re-serialise what did not change).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from entra_simulator.state import Simulator

# What graph.microsoft.com sends for JSON (kiota picks its parser by the part before ";").
CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
DIAGNOSTIC = '{"ServerInfo":{"DataCenter":"Simulator","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"SIM"}}'


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sim_of(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim


def graph_base(request: Request) -> str:
    """``{origin}/v1.0``: the simulator stands in for ``https://graph.microsoft.com`` (spec §9.7)."""
    return f"{str(request.base_url).rstrip('/')}/v1.0"


def context(request: Request, fragment: str) -> str:
    return f"{graph_base(request)}/$metadata#{fragment}"


def graph_headers(request: Request) -> dict[str, str]:
    """``request-id``, ``client-request-id`` (echoed, or the request id) and the diagnostic header (spec §8.1)."""
    request_id = str(uuid.uuid4())
    return {
        "request-id": request_id,
        "client-request-id": request.headers.get("client-request-id", request_id),
        "x-ms-ags-diagnostic": DIAGNOSTIC,
        "Cache-Control": "no-cache",
    }


def respond(request: Request, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body, status_code=status, media_type=CONTENT_TYPE, headers={**graph_headers(request), **(headers or {})}
    )


def plain(request: Request, text: str) -> Response:
    """A ``text/plain`` body, as Graph answers a ``/$count`` segment (a bare integer)."""
    return Response(text, media_type="text/plain", headers=graph_headers(request))


def entity(request: Request, context_fragment: str, item: bytes, status: int = 200) -> Response:
    """A single object: ``{"@odata.context": ..., <item's properties>}``."""
    head = dumps({"@odata.context": context(request, context_fragment)})
    body = head[:-1] + b"," + item[1:] if item != b"{}" else head
    return respond(request, body, status)


def collection(
    request: Request,
    context_fragment: str,
    items: Iterable[bytes],
    *,
    next_link: str | None = None,
    delta_link: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """``{"@odata.context", [extra], ["@odata.nextLink" | "@odata.deltaLink"], "value": [...]}``."""
    head: dict[str, Any] = {"@odata.context": context(request, context_fragment), **(extra or {})}
    if next_link:
        head["@odata.nextLink"] = next_link
    if delta_link:
        head["@odata.deltaLink"] = delta_link
    body = b"".join((dumps(head)[:-1], b',"value":[', b",".join(items), b"]}"))
    return respond(request, body)

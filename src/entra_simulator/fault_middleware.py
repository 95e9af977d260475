"""ASGI middleware that applies :mod:`entra_simulator.faults` rules to matching requests (issue 3 §4).

Admin paths (``/_simulator``) are never faulted. The tenant of a login request is its first path segment; of a
Graph request the ``tid`` of its bearer token (read without verifying: a fault only needs to know where to hit).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entra_simulator.faults import FaultRule
from entra_simulator.jose import JoseError, split
from entra_simulator.state import Simulator


class FaultMiddleware:
    def __init__(self, app: ASGIApp, sim: Simulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_simulator") or not self.sim.faults.rules():
            await self.app(scope, receive, send)
            return
        rule = self.sim.faults.pick(self._tenant_of(scope, path), path)
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "latency":
            await asyncio.sleep(rule.latency_ms / 1000)
            await self.app(scope, receive, send)
        elif rule.kind in ("throttle", "error"):
            await _error_response(send, rule, path)
        elif rule.kind == "drop":
            if not abort_connection(scope):
                raise ConnectionAbortedError("fault: dropped connection")
        else:
            await self.app(scope, receive, _truncating(scope, send))

    def _tenant_of(self, scope: Scope, path: str) -> str | None:
        if path.startswith("/v1.0"):
            auth = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
            try:
                return str(split(auth.removeprefix("Bearer ").strip())[1].get("tid"))
            except JoseError:
                return None
        tenant = self.sim.directory.tenant(path.strip("/").split("/", 1)[0])
        return tenant.id if tenant else None


async def _error_response(send: Send, rule: FaultRule, path: str) -> None:
    if path.startswith("/v1.0"):
        code = "TooManyRequests" if rule.status == 429 else "serviceNotAvailable"
        message = (
            "Too many requests from Identifier under category:throttle.aad.ags.appId.large. Please try again later."
            if rule.status == 429
            else "Service unavailable."
        )
        request_id = str(uuid.uuid4())
        inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id}
        inner["client-request-id"] = request_id
        body: dict[str, Any] = {"error": {"code": code, "message": message, "innerError": inner}}
        extra = [(b"request-id", request_id.encode()), (b"client-request-id", request_id.encode())]
    else:
        body = {"error": "temporarily_unavailable", "error_description": "AADSTS90033: A transient error."}
        extra = []
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *extra]
    if rule.status in (429, 503, 504):
        headers.append((b"retry-after", str(rule.retry_after).encode()))
    await send({"type": "http.response.start", "status": rule.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


RAW_SEND = "entra_simulator.raw_send"


def abort_connection(scope: Scope) -> bool:
    """Close the TCP connection under this request, as a dropped connection looks to the client.

    ASGI has no "abort"; uvicorn's ``send`` is a method of its per-request cycle, which holds the transport
    (the app stores the server's own ``send`` in the scope under RAW_SEND). Marking the cycle disconnected
    keeps uvicorn from answering 500 on the closed socket. False when not under uvicorn (e.g. TestClient).
    """
    cycle = getattr(scope.get(RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(cycle, "disconnected"):
        return False
    transport.close()
    cycle.disconnected = True
    return True


def _truncating(scope: Scope, send: Send) -> Send:
    """Send the real headers (with the full Content-Length), half the body, then close the connection."""
    aborted = False

    async def wrapped(message: Message) -> None:
        nonlocal aborted
        if aborted:
            return
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            aborted = abort_connection(scope)
            if not aborted:
                raise ConnectionAbortedError("fault: truncated body")
            return
        await send(message)

    return wrapped

"""``/scim/v2/{org}/...`` (the Tenant URL Entra calls) and the management API for tokens, log, config.

One catch-all route per Tenant URL dispatches on the path segments itself: that tolerates Entra's
``//Users`` and trailing slashes, ignores unknown query parameters (``?aadOptscim062020``), and keeps
per-request overhead low. The requests themselves are handled in ``koppel.scim.handler``: those that
arrive together share one transaction (``koppel.scim.coalesce``).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from koppel.api.deps import ApiKeyDep, NowDep, SessionDep, SettingsDep, check_org_access
from koppel.organizations.service import get_organization
from koppel.scim import service
from koppel.scim.coalesce import Coalescer
from koppel.scim.errors import ScimError
from koppel.scim.handler import Outcome, ScimRequest, handle, handle_batch
from koppel.scim.protocol import discovery

router = APIRouter()
SCIM_JSON = "application/scim+json"
SCIM_JSON_BYTES = SCIM_JSON.encode()
MAX_BODY_BYTES = discovery.MAX_PAYLOAD_BYTES
SCIM_ROUTE = "/scim/v2/{org}/{rest:path}"  # the route template, also the metrics label
_PREFIX = "/scim/v2/"
_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE"))


def _dumps(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)  # compact UTF-8, as below, several times faster
    except TypeError:  # what orjson refuses (e.g. integers beyond 64 bits)
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _json(body: dict[str, Any] | None, status: int, headers: dict[str, str] | None = None) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(_dumps(body), status_code=status, media_type=SCIM_JSON, headers=headers)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ScimError(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ScimError(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


@router.api_route(SCIM_ROUTE, methods=sorted(_METHODS), include_in_schema=False)
async def scim_endpoint(request: Request, org: str, rest: str) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        body = await _read_body(request) if request.method in ("POST", "PUT", "PATCH") else b""
    except ScimError as exc:
        return _json(exc.to_scim(), exc.status_code)
    req = ScimRequest(
        method=request.method,
        org=org,
        segments=[s for s in rest.split("/") if s],
        params={k.lower(): v for k, v in request.query_params.items()},
        bearer=token.strip() if scheme.lower() == "bearer" else "",
        body=body,
    )
    state = request.app.state
    outcome = handle(state.session_factory, state.settings, state.clock, req)
    return _json(outcome.body, outcome.status, outcome.headers)


class ScimApp:
    """The Tenant URL as a plain ASGI app in front of FastAPI: SCIM requests skip its router and middleware.

    Entra sends thousands of requests per sync; FastAPI's routing over every koppel route and its
    request/response wrapping cost as much as the SCIM work itself. This does what ``scim_endpoint``
    does, with the requests that arrive together handled in one transaction (``handle_batch``), counts
    the request in the metrics, and passes every other path to ``app``.
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app, self.state = app, state
        self.batches: Coalescer[ScimRequest, Outcome] = Coalescer(
            lambda reqs: handle_batch(state.session_factory, state.settings, state.clock, reqs),
            worth_waiting=lambda req: not req.is_read,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        org, slash, rest = path[len(_PREFIX) :].partition("/")
        if not path.startswith(_PREFIX) or not org or not slash or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)  # not a SCIM call FastAPI would route here: FastAPI answers
            return
        start, status = time.perf_counter(), 500
        try:
            status = await self._serve(scope, receive, send, org, rest)
        finally:
            self.state.metrics.observe(scope["method"], SCIM_ROUTE, status, time.perf_counter() - start)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, org: str, rest: str) -> int:
        method: str = scope["method"]
        authorization, declared = "", ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                declared = value.decode("latin-1")
        body = b""
        if method in ("POST", "PUT", "PATCH"):
            try:
                received = await _receive_body(receive, declared)
            except ScimError as exc:
                return await _send(send, exc.status_code, exc.to_scim())
            if received is None:
                return 499  # the client went away: nothing to answer
            body = received
        scheme, _, token = authorization.partition(" ")
        query = scope.get("query_string", b"").decode("latin-1")
        req = ScimRequest(
            method=method,
            org=org,
            segments=[s for s in rest.split("/") if s],
            params={k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)} if query else {},
            bearer=token.strip() if scheme.lower() == "bearer" else "",
            body=body,
        )
        outcome = await self.batches.submit(req)
        return await _send(send, outcome.status, outcome.body, outcome.headers)


async def _receive_body(receive: Receive, declared: str) -> bytes | None:
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ScimError(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        part = message.get("body", b"")
        size += len(part)
        if size > MAX_BODY_BYTES:
            raise ScimError(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
        parts.append(part)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def _send(send: Send, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> int:
    raw: list[tuple[bytes, bytes]] = []
    content = b""
    if body is not None:
        content = _dumps(body)
        raw.append((b"content-type", SCIM_JSON_BYTES))
    if status != 204 and status >= 200:
        raw.append((b"content-length", str(len(content)).encode()))
    if headers:
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})
    return status


# -- management API --------------------------------------------------------------------------
api = APIRouter(prefix="/api/v1/organizations/{org}/scim", tags=["scim"])


class TokenCreate(BaseModel):
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="Days until the token expires.")


class TokenRotate(BaseModel):
    token_id: str | None = Field(default=None, description="Rotate this token; default: every active token.")
    grace_days: int = Field(default=7, ge=0, le=90, description="Days the old token(s) stay valid.")


class ExtensionAttribute(BaseModel):
    name: str = Field(max_length=64)
    type: str = "string"
    mutability: str = "readWrite"
    caseExact: bool = False


class ConfigUpdate(BaseModel):
    extension_urn: str | None = Field(default=None, max_length=255, description="'' removes the extension.")
    extension_attributes: list[ExtensionAttribute] | None = None
    log_retention_days: int | None = Field(default=None, ge=1, le=3650)
    log_max_entries: int | None = Field(default=None, ge=100, le=10_000_000)


def _org_id(session: Session, key: Any, org: str) -> str:
    organization = get_organization(session=session, ref=org)
    check_org_access(key, organization.id)
    return organization.id


@api.post("/tokens", status_code=201)
def create_token(
    org: str, body: TokenCreate, session: SessionDep, key: ApiKeyDep, now: NowDep, settings: SettingsDep
) -> dict[str, Any]:
    org_id = _org_id(session, key, org)
    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    new = service.create_token(session=session, org=org_id, expires_in=expires, now=now)
    organization = get_organization(session=session, ref=org_id)
    return {
        "tenant_url": service.tenant_url(settings.base_url, organization),
        "token": new.secret,
        **service.token_out(new.token, now),
    }


@api.get("/tokens")
def list_tokens(org: str, session: SessionDep, key: ApiKeyDep, now: NowDep) -> list[dict[str, Any]]:
    org_id = _org_id(session, key, org)
    return [service.token_out(t, now) for t in service.list_tokens(session=session, org=org_id)]


@api.post("/tokens/rotate", status_code=201)
def rotate_token(
    org: str, body: TokenRotate, session: SessionDep, key: ApiKeyDep, now: NowDep, settings: SettingsDep
) -> dict[str, Any]:
    org_id = _org_id(session, key, org)
    new, olds = service.rotate_token(
        session=session, org=org_id, token_id=body.token_id, grace=timedelta(days=body.grace_days), now=now
    )
    organization = get_organization(session=session, ref=org_id)
    return {
        "tenant_url": service.tenant_url(settings.base_url, organization),
        "token": new.secret,
        **service.token_out(new.token, now),
        "previous": [service.token_out(t, now) for t in olds],
    }


@api.delete("/tokens/{token_id}")
def revoke_token(org: str, token_id: str, session: SessionDep, key: ApiKeyDep, now: NowDep) -> dict[str, Any]:
    org_id = _org_id(session, key, org)
    return service.token_out(service.revoke_token(session=session, org=org_id, token_id=token_id, now=now), now)


@api.get("/log")
def read_log(
    org: str,
    session: SessionDep,
    key: ApiKeyDep,
    limit: int = 100,
    before_id: int | None = None,
    errors_only: bool = False,
) -> list[dict[str, Any]]:
    org_id = _org_id(session, key, org)
    entries = service.read_log(session=session, org=org_id, limit=limit, before_id=before_id, errors_only=errors_only)
    return [service.log_out(e) for e in entries]


def _config_out(config: Any) -> dict[str, Any]:
    return {
        "extension_urn": config.extension_urn,
        "extension_attributes": config.extension_attributes,
        "log_retention_days": config.log_retention_days,
        "log_max_entries": config.log_max_entries,
    }


@api.get("/config")
def get_config(org: str, session: SessionDep, key: ApiKeyDep) -> dict[str, Any]:
    return _config_out(service.get_config(session=session, org_id=_org_id(session, key, org)))


@api.put("/config")
def put_config(org: str, body: ConfigUpdate, session: SessionDep, key: ApiKeyDep, now: NowDep) -> dict[str, Any]:
    org_id = _org_id(session, key, org)
    attrs = [a.model_dump() for a in body.extension_attributes] if body.extension_attributes is not None else None
    config = service.set_config(
        session=session,
        org=org_id,
        now=now,
        extension_urn=body.extension_urn,
        extension_attributes=attrs,
        log_retention_days=body.log_retention_days,
        log_max_entries=body.log_max_entries,
    )
    return _config_out(config)


router.include_router(api)

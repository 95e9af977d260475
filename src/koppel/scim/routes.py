"""``/scim/v2/{org}/...`` (the Tenant URL Entra calls) and the management API for tokens, log, config.

One catch-all route per Tenant URL dispatches on the path segments itself: that tolerates Entra's
``//Users`` and trailing slashes, ignores unknown query parameters (``?aadOptscim062020``), and keeps
per-request overhead low. Every request is one transaction, and one provisioning-log insert.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from koppel.api.deps import ApiKeyDep, NowDep, SessionDep, SettingsDep, check_org_access
from koppel.db.engine import statement_autocommit
from koppel.errors import KoppelError
from koppel.organizations.service import get_organization
from koppel.scim import resources, service
from koppel.scim.errors import ScimError, invalid_syntax, invalid_value, not_found
from koppel.scim.protocol import discovery
from koppel.scim.protocol.project import parse_attribute_list
from koppel.scim.protocol.schemas import GROUP_SCHEMA, LIST_RESPONSE, USER_SCHEMA
from koppel.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter()
SCIM_JSON = "application/scim+json"
SCIM_JSON_BYTES = SCIM_JSON.encode()
MAX_BODY_BYTES = discovery.MAX_PAYLOAD_BYTES
DEFAULT_COUNT = 100
SCIM_ROUTE = "/scim/v2/{org}/{rest:path}"  # the route template, also the metrics label
_PREFIX = "/scim/v2/"
_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE"))


@dataclass
class Outcome:
    status: int
    body: dict[str, Any] | None
    operation: str
    resource_type: str | None = None
    resource_id: str | None = None
    detail: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScimRequest:
    method: str
    org: str
    segments: list[str]
    params: dict[str, str]
    bearer: str
    body: bytes


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
    does (same ``handle``), counts the request in the metrics, and passes every other path to ``app``.
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app, self.state = app, state

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
        state = self.state
        outcome = handle(state.session_factory, state.settings, state.clock, req)
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


def handle(
    factory: sessionmaker[Session], settings: Settings, clock: Callable[[], datetime], req: ScimRequest
) -> Outcome:
    """One SCIM request: authenticate, dispatch, log; errors become SCIM Error bodies, never tracebacks."""
    now = clock()
    org_id: str | None = None
    try:
        with factory() as session, session.begin():
            read = req.method == "GET" or (req.method == "POST" and req.segments[-1:] == [".search"])
            if read:
                statement_autocommit(session)  # a read and its log row: no BEGIN/COMMIT round trips
            ctx = service.authenticate(
                session=session, bearer=req.bearer, org_ref=req.org, base_url=settings.base_url, now=now
            )
            org_id = ctx.org_id
            outcome = _dispatch(session, ctx, req, now)
            entry = _log_record(req, outcome)
            service.record(session=session, org_id=ctx.org_id, entry=entry, now=now, wait_for_disk=not read)
        return outcome
    except ScimError as exc:
        failed = _failure(req, exc.status_code, exc.to_scim(), exc.scim_type, exc.detail)
    except KoppelError as exc:
        err = ScimError(exc.detail, status=exc.status_code)
        failed = _failure(req, err.status_code, err.to_scim(), None, exc.detail)
    except IntegrityError:
        detail = "a concurrent request changed the same data; retry the request"
        failed = _failure(
            req, 409, ScimError(detail, status=409, scim_type="uniqueness").to_scim(), "uniqueness", detail
        )
    except OperationalError:
        log.exception("SCIM request failed on the database")
        detail = "the database is busy or unreachable; retry later"
        failed = _failure(req, 503, ScimError(detail, status=503).to_scim(), None, detail)
        failed.headers["Retry-After"] = "30"
    except Exception:
        log.exception("SCIM request failed")
        detail = "koppel failed to handle this request; the error is in koppel's log"
        failed = _failure(req, 500, ScimError(detail, status=500).to_scim(), None, detail)
    _log_failure(factory, settings, req, org_id, failed, now)
    return failed


def _failure(req: ScimRequest, status: int, body: dict[str, Any], scim_type: str | None, detail: str) -> Outcome:
    operation, resource_type, resource_id = _describe(req)
    outcome = Outcome(status, body, operation, resource_type, resource_id, detail)
    outcome.headers["x-scim-type"] = scim_type or ""
    return outcome


def _log_failure(
    factory: sessionmaker[Session],
    settings: Settings,
    req: ScimRequest,
    org_id: str | None,
    out: Outcome,
    now: datetime,
) -> None:
    scim_type = out.headers.pop("x-scim-type", "") or None
    try:
        with factory() as session, session.begin():
            if org_id is None:
                try:
                    org_id = get_organization(session=session, ref=req.org).id
                except KoppelError:
                    return  # an organization that does not exist has no log
            entry = _log_record(req, out)
            entry = service.LogRecord(**{**entry.__dict__, "scim_type": scim_type, "detail": out.detail})
            service.record(session=session, org_id=org_id, entry=entry, now=now)
    except Exception:
        log.exception("could not write the SCIM provisioning log")


def _describe(req: ScimRequest) -> tuple[str, str | None, str | None]:
    seg = req.segments
    kind = seg[0] if seg else None
    low = kind.lower() if kind else ""
    rtype = {"users": "User", "groups": "Group"}.get(low)
    if rtype is None:
        return f"{req.method.lower()} {kind or '/'}"[:40], kind, None
    verb = {"GET": "get" if len(seg) > 1 else "query", "POST": "create", "PUT": "replace", "PATCH": "patch"}.get(
        req.method, "delete"
    )
    return f"{verb} {rtype}{'s' if verb == 'query' else ''}", rtype, seg[1] if len(seg) > 1 else None


def _log_record(req: ScimRequest, out: Outcome) -> service.LogRecord:
    return service.LogRecord(
        method=req.method,
        operation=out.operation,
        resource_type=out.resource_type,
        resource_id=out.resource_id,
        status=out.status,
        detail=out.detail,
    )


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise invalid_syntax("the request has no body; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # orjson is stricter (e.g. NaN, integers beyond 64 bits): the standard library decides
    try:
        return json.loads(body)
    except ValueError as exc:
        raise invalid_syntax(f"the request body is not valid JSON ({exc})") from exc


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise invalid_value(f"{name} must be a whole number, not {raw!r}") from exc


def _list_response(page: resources.Page) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": page.total,
        "Resources": page.resources,
        "startIndex": page.start_index,
        "itemsPerPage": len(page.resources),
    }


def _dispatch(session: Session, ctx: service.ScimContext, req: ScimRequest, now: datetime) -> Outcome:
    seg, method, params = req.segments, req.method, req.params
    kind = seg[0].lower() if seg else ""
    projection = resources.Projection(
        parse_attribute_list(params.get("attributes")), parse_attribute_list(params.get("excludedattributes"))
    )
    if kind in ("users", "groups"):
        is_user = kind == "users"
        rtype = "User" if is_user else "Group"
        core = USER_SCHEMA if is_user else GROUP_SCHEMA
        if len(seg) > 2 or (len(seg) == 2 and seg[1] == ".search" and method != "POST"):
            raise not_found(f"no such SCIM endpoint: /{'/'.join(seg)}")
        if len(seg) == 1 or seg[1] == ".search":
            if method == "GET" or (len(seg) == 2 and method == "POST"):
                return _query(session, ctx, req, is_user, projection, core)
            if method == "POST":
                body = _parse_json(req.body)
                created = (resources.create_user if is_user else resources.create_group)(
                    session=session, ctx=ctx, body=body, now=now
                )
                out = resources.projected(created, core, projection)
                return Outcome(
                    201, out, f"create {rtype}", rtype, created["id"], headers={"Location": created["meta"]["location"]}
                )
            raise ScimError(f"{method} is not allowed on /{seg[0]}; use GET or POST", status=405)
        rid = seg[1]
        if method == "GET":
            if is_user:
                found = resources.get_user(session=session, ctx=ctx, user_id=rid)
            else:
                found = resources.get_group(
                    session=session, ctx=ctx, group_id=rid, with_members=projection.wants_members()
                )
            return Outcome(200, resources.projected(found, core, projection), f"get {rtype}", rtype, rid)
        if method == "DELETE":
            (resources.delete_user if is_user else resources.delete_group)(
                session=session, ctx=ctx, **{"user_id" if is_user else "group_id": rid}, now=now
            )
            return Outcome(204, None, f"delete {rtype}", rtype, rid)
        body = _parse_json(req.body)
        if method == "PATCH":
            if is_user:
                patched = resources.patch_user(session=session, ctx=ctx, user_id=rid, body=body, now=now)
                return Outcome(200, resources.projected(patched, core, projection), "patch User", rtype, rid)
            resources.patch_group(session=session, ctx=ctx, group_id=rid, body=body, now=now)
            return Outcome(204, None, "patch Group", rtype, rid)
        if method == "PUT":
            if is_user:
                replaced = resources.replace_user(session=session, ctx=ctx, user_id=rid, body=body, now=now)
            else:
                replaced = resources.replace_group(session=session, ctx=ctx, group_id=rid, body=body, now=now)
            return Outcome(200, resources.projected(replaced, core, projection), f"replace {rtype}", rtype, rid)
        raise ScimError(f"{method} is not allowed on /{seg[0]}/{{id}}", status=405)
    if kind == ".search" and method == "POST" and len(seg) == 1:
        return _root_search(session, ctx, req)
    if method != "GET":
        raise ScimError(f"{method} is not allowed here; discovery endpoints are read-only", status=405)
    return _discovery(ctx, seg)


def _query(
    session: Session,
    ctx: service.ScimContext,
    req: ScimRequest,
    is_user: bool,
    projection: resources.Projection,
    core: str,
) -> Outcome:
    params = dict(req.params)
    if req.method == "POST":  # /.search: the same parameters in a SearchRequest body
        body = _parse_json(req.body)
        if not isinstance(body, dict):
            raise invalid_syntax("a SearchRequest body must be a JSON object")
        for key in ("filter", "startIndex", "count"):
            if key in body and body[key] is not None:
                params[key.lower()] = str(body[key])
        for key in ("attributes", "excludedAttributes"):
            if isinstance(body.get(key), list):
                params[key.lower()] = ",".join(body[key])
        projection = resources.Projection(
            parse_attribute_list(params.get("attributes")), parse_attribute_list(params.get("excludedattributes"))
        )
    start = max(1, _int_param(params, "startIndex", 1))
    count = max(0, _int_param(params, "count", DEFAULT_COUNT))
    filter_text = params.get("filter") or None
    if is_user:
        page = resources.query_users(session=session, ctx=ctx, filter_text=filter_text, start_index=start, count=count)
    else:
        page = resources.query_groups(
            session=session,
            ctx=ctx,
            filter_text=filter_text,
            start_index=start,
            count=count,
            with_members=projection.wants_members(),
        )
    if projection.attributes or projection.excluded:
        page = resources.Page(
            page.total, page.start_index, [resources.projected(r, core, projection) for r in page.resources]
        )
    rtype = "User" if is_user else "Group"
    return Outcome(200, _list_response(page), f"query {rtype}s", rtype, None, filter_text)


def _root_search(session: Session, ctx: service.ScimContext, req: ScimRequest) -> Outcome:
    """POST /.search: the same SearchRequest over Users, then Groups (RFC 7644 §3.4.3)."""
    users = _query(session, ctx, req, True, resources.Projection([], []), USER_SCHEMA)
    groups = _query(session, ctx, req, False, resources.Projection([], []), GROUP_SCHEMA)
    assert users.body is not None and groups.body is not None
    found = users.body["Resources"] + groups.body["Resources"]
    total = users.body["totalResults"] + groups.body["totalResults"]
    page = resources.Page(total, users.body["startIndex"], found)
    return Outcome(200, _list_response(page), "search", None, None, users.detail)


def _discovery(ctx: service.ScimContext, seg: list[str]) -> Outcome:
    kind = seg[0].lower() if seg else ""
    if kind == "serviceproviderconfig" and len(seg) == 1:
        return Outcome(200, discovery.service_provider_config(ctx.base), "get ServiceProviderConfig")
    if kind in ("schemas", "resourcetypes"):
        docs = (
            discovery.schemas(ctx.base, ctx.user_def)
            if kind == "schemas"
            else discovery.resource_types(ctx.base, ctx.user_def)
        )
        name = "Schemas" if kind == "schemas" else "ResourceTypes"
        if len(seg) == 1:
            page = resources.Page(len(docs), 1, docs)
            return Outcome(200, _list_response(page), f"get {name}")
        wanted = "/".join(seg[1:]).lower()
        for doc in docs:
            if str(doc["id"]).lower() == wanted:
                return Outcome(200, doc, f"get {name}")
        raise not_found(f"no {name[:-1]} {wanted!r}; GET /{name} lists them")
    if kind in ("me", "bulk"):
        raise ScimError(f"/{seg[0]} is not supported by koppel", status=501)
    raise not_found(f"no such SCIM endpoint: /{'/'.join(seg)}; use /Users, /Groups, /Schemas, /ResourceTypes")


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

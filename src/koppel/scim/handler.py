"""Handling SCIM requests: authenticate, dispatch to ``resources``, log; alone or several in one transaction.

``handle`` runs one request in its own transaction. ``handle_batch`` runs requests that arrived
together (``koppel.scim.coalesce``) in one: one commit, and their events and provisioning-log entries
in one statement each, with every request keeping its own outcome.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import statement_autocommit
from koppel.errors import KoppelError
from koppel.events import log as event_log
from koppel.organizations.service import get_organization
from koppel.scim import resources, service
from koppel.scim.errors import ScimError, invalid_syntax, invalid_value, not_found
from koppel.scim.protocol import discovery
from koppel.scim.protocol.project import parse_attribute_list
from koppel.scim.protocol.schemas import GROUP_SCHEMA, LIST_RESPONSE, USER_SCHEMA
from koppel.settings import Settings

log = logging.getLogger(__name__)
DEFAULT_COUNT = 100


@dataclass
class Outcome:
    status: int
    body: dict[str, Any] | None
    operation: str
    resource_type: str | None = None
    resource_id: str | None = None
    detail: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    scim_type: str | None = None  # of an error, for the provisioning log


@dataclass(frozen=True)
class ScimRequest:
    method: str
    org: str
    segments: list[str]
    params: dict[str, str]
    bearer: str
    body: bytes

    @property
    def is_read(self) -> bool:
        return self.method == "GET" or (self.method == "POST" and self.segments[-1:] == [".search"])


def handle(
    factory: sessionmaker[Session], settings: Settings, clock: Callable[[], datetime], req: ScimRequest
) -> Outcome:
    """One SCIM request: authenticate, dispatch, log; errors become SCIM Error bodies, never tracebacks."""
    now = clock()
    org_id: str | None = None
    try:
        with factory() as session, session.begin():
            if req.is_read:
                statement_autocommit(session)  # a read and its log row: no BEGIN/COMMIT round trips
            ctx = service.authenticate(
                session=session, bearer=req.bearer, org_ref=req.org, base_url=settings.base_url, now=now
            )
            org_id = ctx.org_id
            outcome = _dispatch(session, ctx, req, now)
            service.record(
                session=session,
                org_id=ctx.org_id,
                entry=_log_record(req, outcome),
                now=now,
                wait_for_disk=not req.is_read,
            )
        return outcome
    except Exception as exc:
        failed = _error_outcome(req, exc)
    _log_failure(factory, req, org_id, failed, now)
    return failed


def _error_outcome(req: ScimRequest, exc: Exception) -> Outcome:
    """The SCIM Error answer to ``exc``: what went wrong in words an admin can act on, never a traceback."""
    scim_type: str | None = None
    headers: dict[str, str] = {}
    if isinstance(exc, ScimError):
        status, detail, scim_type = exc.status_code, exc.detail, exc.scim_type
    elif isinstance(exc, KoppelError):
        status, detail = exc.status_code, exc.detail
    elif isinstance(exc, IntegrityError):
        status, detail, scim_type = 409, "a concurrent request changed the same data; retry the request", "uniqueness"
    elif isinstance(exc, OperationalError):
        log.error("SCIM request failed on the database", exc_info=exc)
        status, detail, headers = 503, "the database is busy or unreachable; retry later", {"Retry-After": "30"}
    else:
        log.error("SCIM request failed", exc_info=exc)
        status, detail = 500, "koppel failed to handle this request; the error is in koppel's log"
    body = (
        exc.to_scim() if isinstance(exc, ScimError) else ScimError(detail, status=status, scim_type=scim_type).to_scim()
    )
    operation, resource_type, resource_id = _describe(req)
    return Outcome(status, body, operation, resource_type, resource_id, detail, headers, scim_type)


def _log_failure(
    factory: sessionmaker[Session], req: ScimRequest, org_id: str | None, out: Outcome, now: datetime
) -> None:
    try:
        with factory() as session, session.begin():
            if org_id is None:
                try:
                    org_id = get_organization(session=session, ref=req.org).id
                except KoppelError:
                    return  # an organization that does not exist has no log
            service.record(session=session, org_id=org_id, entry=_log_record(req, out), now=now)
    except Exception:
        log.exception("could not write the SCIM provisioning log")


# -- several requests in one transaction -----------------------------------------------------
class _Again(Exception):
    """The batch cannot keep this outcome: roll it back and run each request on its own."""


def handle_batch(
    factory: sessionmaker[Session], settings: Settings, clock: Callable[[], datetime], reqs: list[ScimRequest]
) -> list[Outcome]:
    """Requests that arrived together, in one transaction; the outcome of each as if run one after another.

    Entra sends eight requests at a time. Alone, each is a transaction of its own: its BEGIN, its
    connection lock, its event insert, its log insert, its COMMIT and WAL flush. Together they share
    those (group commit, as databases do for their own log): on PostgreSQL a create costs two
    statements (its uniqueness check and its row) instead of seven. Each request still gets its own
    answer, and no answer is sent before the commit:

    - a request that fails before writing anything (a 400, a 404, a 409 found by the uniqueness check)
      answers its error; the others go on;
    - a request that fails after writing, and any database error, roll the whole batch back, and every
      request runs again on its own (``handle``): the result of running them in sequence.
    """
    if len(reqs) == 1:
        return [handle(factory, settings, clock, reqs[0])]
    try:
        return _handle_together(factory, settings, clock, reqs)
    except _Again:
        pass
    except Exception as exc:  # a database error (a conflict, a deadlock with another process), a defect:
        # one by one, each request gets the answer and the log entry it would have had alone
        log.info("SCIM batch of %d rolled back (%s); running its requests one by one", len(reqs), type(exc).__name__)
    return [handle(factory, settings, clock, req) for req in reqs]


def _handle_together(
    factory: sessionmaker[Session], settings: Settings, clock: Callable[[], datetime], reqs: list[ScimRequest]
) -> list[Outcome]:
    reads_only = all(req.is_read for req in reqs)
    outcomes: list[Outcome] = []
    entries: list[tuple[str, service.LogRecord, datetime]] = []
    with factory() as session, session.begin():
        if reads_only:
            statement_autocommit(session)
        writes = _WriteCounter(session)
        event_log.defer(session)
        try:
            for req in reqs:
                now = clock()
                try:
                    ctx = service.authenticate(
                        session=session, bearer=req.bearer, org_ref=req.org, base_url=settings.base_url, now=now
                    )
                except (ScimError, KoppelError) as exc:
                    raise _Again from exc  # 401: the log entry needs the organization looked up (handle does)
                seen = writes.count
                try:
                    outcome = _dispatch(session, ctx, req, now)
                except (ScimError, KoppelError) as exc:
                    if writes.count != seen:
                        raise _Again from exc
                    outcome = _error_outcome(req, exc)
                outcomes.append(outcome)
                entries.append((ctx.org_id, _log_record(req, outcome), now))
            event_log.write_deferred(session)
            service.record_many(session=session, entries=entries, wait_for_disk=not reads_only)
        finally:
            writes.stop()
    return outcomes


class _WriteCounter:
    """Counts the data-changing statements the session runs, to know whether a failed request wrote."""

    def __init__(self, session: Session) -> None:
        self.count = 0
        self.conn = session.connection()
        event.listen(self.conn, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # WITH: a CTE may modify data; counting a read-only one too only costs a needless replay
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE", "WITH"):
            self.count += 1

    def stop(self) -> None:
        event.remove(self.conn, "before_cursor_execute", self._seen)


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
        scim_type=out.scim_type,
        detail=out.detail,
    )


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise invalid_syntax("the request has no body; send a JSON object")
    try:
        value = orjson.loads(body)
    except (
        orjson.JSONDecodeError
    ):  # orjson is stricter (e.g. NaN, integers beyond 64 bits): the standard library decides
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise invalid_syntax(f"the request body is not valid JSON ({exc})") from exc
    if b"\\u0000" in body and _has_nul(value):  # the cheap test first: JSON can only carry NUL escaped
        raise invalid_value("a value contains a NUL character (\\u0000), which koppel cannot store; remove it")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


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
        if "\x00" in rid:  # no id holds one, and PostgreSQL refuses the character in a query
            raise not_found(f"no {rtype} with id {rid!r} in this organization")
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

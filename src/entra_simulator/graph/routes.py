"""Microsoft Graph v1.0 routes (issue 3 §3; spec §8). Thin: check the caller, pick objects, page, respond."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from entra_simulator.changelog import GROUP, USER
from entra_simulator.errors import GraphError, not_found
from entra_simulator.graph import apps, shapes
from entra_simulator.graph.auth import Caller, authenticate, require
from entra_simulator.graph.delta import delta_page
from entra_simulator.graph.listing import count_segment, fragment, list_page, odata_count
from entra_simulator.graph.paging import link, page_slice, parse_top, snapshots
from entra_simulator.graph.query import GROUPS, USERS, checked_filter, consistency, count_not_supported
from entra_simulator.graph.wire import collection, dumps, entity, plain, sim_of
from entra_simulator.graph_permissions import (
    INVITE,
    READ_APPS,
    READ_GROUPS,
    READ_ME,
    READ_ORG,
    READ_TEAM_MEMBERS,
    READ_USERS,
)
from entra_simulator.model import Group, Tenant

router = APIRouter(prefix="/v1.0", tags=["graph"])

APP_FILTERABLE = frozenset({"id", "appId", "displayName"})


def _group(tenant: Tenant, group_id: str) -> Group:
    group = tenant.groups.get(group_id)
    if group is None:
        raise not_found(group_id)
    return group


# --- organization, me ---------------------------------------------------------------------------------------
@router.get("/organization")
async def organization(request: Request) -> Response:
    caller = require(request, READ_ORG)
    return collection(request, "organization", [dumps(shapes.organization(caller.tenant))])


@router.get("/me")
async def me(request: Request) -> Response:
    caller = authenticate(request)
    if caller.user is None:
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    if caller.permissions.isdisjoint(READ_ME):
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    select = shapes.parse_select(request.query_params.get("$select"), shapes.USER_PROPERTIES)
    return entity(request, "users/$entity", shapes.user_json(caller.user, select))


# --- delta (registered before /users/{key} so "delta" is not taken for a user id) --------------------------
@router.get("/users/delta")
@router.get("/users/delta()")
async def users_delta(request: Request) -> Response:
    caller = require(request, READ_USERS)
    return delta_page(request, caller.tenant, USER)


@router.get("/groups/delta")
@router.get("/groups/delta()")
async def groups_delta(request: Request) -> Response:
    caller = require(request, READ_GROUPS)
    return delta_page(request, caller.tenant, GROUP)


# --- users --------------------------------------------------------------------------------------------------
@router.get("/users")
async def list_users(request: Request) -> Response:
    caller = require(request, READ_USERS)
    select = shapes.parse_select(request.query_params.get("$select"), shapes.USER_PROPERTIES)
    return list_page(request, caller.tenant, USERS, select)


@router.get("/users/$count")
async def count_users(request: Request) -> Response:
    return count_segment(request, require(request, READ_USERS).tenant, USERS)


@router.get("/users/{key}")
async def get_user(key: str, request: Request) -> Response:
    caller = authenticate(request)
    user = caller.tenant.find_user(key)
    own = caller.user is not None and user is caller.user
    if caller.permissions.isdisjoint(READ_USERS) and not (own and not caller.permissions.isdisjoint(READ_ME)):
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    if user is None:
        raise not_found(key)
    select = shapes.parse_select(request.query_params.get("$select"), shapes.USER_PROPERTIES)
    return entity(request, "users/$entity", shapes.user_json(user, select))


# --- groups -------------------------------------------------------------------------------------------------
@router.get("/groups")
async def list_groups(request: Request) -> Response:
    caller = require(request, READ_GROUPS)
    select = shapes.parse_select(request.query_params.get("$select"), shapes.GROUP_PROPERTIES, type_name="Group")
    return list_page(request, caller.tenant, GROUPS, select)


@router.get("/groups/$count")
async def count_groups(request: Request) -> Response:
    return count_segment(request, require(request, READ_GROUPS).tenant, GROUPS)


@router.get("/groups/{group_id}")
async def get_group(group_id: str, request: Request) -> Response:
    caller = require(request, READ_GROUPS)
    select = shapes.parse_select(request.query_params.get("$select"), shapes.GROUP_PROPERTIES, type_name="Group")
    return entity(request, "groups/$entity", shapes.group_json(_group(caller.tenant, group_id), select))


@router.get("/groups/{group_id}/members")
async def group_members(group_id: str, request: Request) -> Response:
    return _members(request, group_id, transitive=False)


@router.get("/groups/{group_id}/transitiveMembers")
async def group_transitive_members(group_id: str, request: Request) -> Response:
    return _members(request, group_id, transitive=True)


@router.get("/groups/{group_id}/members/$count")
@router.get("/groups/{group_id}/transitiveMembers/$count")
async def count_members(group_id: str, request: Request) -> Response:
    """The number of (transitive) members; ``$filter`` / ``$search`` on members are not simulated."""
    caller = require(request, READ_GROUPS)
    if not consistency(request, count_segment=True).eventual:
        raise count_not_supported()
    if {"$filter", "$search"} & set(request.query_params):
        raise GraphError(400, "Request_UnsupportedQuery", "The simulator counts members without $filter or $search.")
    transitive = request.url.path.endswith("/transitiveMembers/$count")
    group = _group(caller.tenant, group_id)
    ids = snapshots(request).members(sim_of(request), caller.tenant, group, transitive=transitive)
    return plain(request, str(len(ids)))


def _members(request: Request, group_id: str, *, transitive: bool) -> Response:
    """Direct or transitive members with ``@odata.type`` each, ``$select``, ``$top`` and ``$skiptoken`` (§8.4)."""
    caller = require(request, READ_GROUPS)
    tenant = caller.tenant
    group = _group(tenant, group_id)
    known = (shapes.USER_PROPERTIES, shapes.GROUP_PROPERTIES)
    select = shapes.parse_select(request.query_params.get("$select"), *known, type_name="DirectoryObject")
    ids = snapshots(request).members(sim_of(request), tenant, group, transitive=transitive)
    level = consistency(request)
    page, token = page_slice(request, ids, parse_top(request), level.carry())
    items = [data for i in page if (data := shapes.object_json(tenant, i, select)) is not None]
    segment = "transitiveMembers" if transitive else "members"
    next_link = link(request, f"/groups/{group_id}/{segment}", **{"$skiptoken": token}) if token else None
    extra = odata_count(request, level, len(ids))
    return collection(request, fragment("directoryObjects", select), items, next_link=next_link, extra=extra)


# --- a user's groups (the overage fallback; spec §7.4) -----------------------------------------------------
MEMBER_OF_PATHS = ("memberOf", "transitiveMemberOf")


@router.get("/users/{key}/{relation}")
@router.get("/users/{key}/{relation}/microsoft.graph.group")
async def user_member_of(key: str, relation: str, request: Request) -> Response:
    return _member_of(request, key, relation)


@router.get("/me/{relation}")
@router.get("/me/{relation}/microsoft.graph.group")
async def my_member_of(relation: str, request: Request) -> Response:
    return _member_of(request, None, relation)


def _member_of(request: Request, key: str | None, relation: str) -> Response:
    """Direct or transitive groups of a user; ``/microsoft.graph.group`` casts to groups (they all are here)."""
    if relation not in MEMBER_OF_PATHS:
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{relation}'.")
    caller = authenticate(request)
    user = caller.user if key is None else caller.tenant.find_user(key)
    own = caller.user is not None and user is caller.user
    allowed = READ_GROUPS | READ_USERS
    if caller.permissions.isdisjoint(allowed) and not (own and not caller.permissions.isdisjoint(READ_ME)):
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    if user is None:
        raise not_found(key or "me")
    directory = sim_of(request).directory
    tenant = caller.tenant
    ids = directory.transitive_groups(tenant, user.id) if relation == "transitiveMemberOf" else sorted(user.member_of)
    select = shapes.parse_select(request.query_params.get("$select"), shapes.GROUP_PROPERTIES, type_name="Group")
    page, token = page_slice(request, ids, parse_top(request))
    items = [data for i in page if (data := shapes.object_json(tenant, i, select)) is not None]
    path = request.url.path.removeprefix("/v1.0")
    next_link = link(request, path, **{"$skiptoken": token}) if token else None
    return collection(request, fragment("directoryObjects", select), items, next_link=next_link)


# --- teams, invitations -------------------------------------------------------------------------------------
@router.get("/teams/{team_id}/members")
async def team_members(team_id: str, request: Request) -> Response:
    caller = require(request, READ_TEAM_MEMBERS)
    tenant = caller.tenant
    group = tenant.groups.get(team_id)
    if group is None or not apps.is_team(group):
        raise GraphError(404, "NotFound", f"No team found with Group Id {team_id}")
    member_ids = list(dict.fromkeys([*group.owners, *group.members]))
    users = [u for m in member_ids if (u := tenant.users.get(m)) is not None]
    items = [dumps(apps.team_member(tenant, group, u)) for u in users]
    return collection(request, f"teams('{team_id}')/members", items, extra={"@odata.count": len(items)})


@router.post("/invitations")
async def invitations(request: Request) -> Response:
    caller = require(request, INVITE)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON invitation object.")
    created = apps.invite(sim_of(request).directory, caller.tenant, body)
    return entity(request, "invitations/$entity", dumps(created), status=201)


# --- applications, service principals -----------------------------------------------------------------------
def _own_apps(caller: Caller) -> list[Any]:
    return [a for a in caller.tenant.apps.values() if a.tenant_id == caller.tenant.id]


@router.get("/applications")
async def list_applications(request: Request) -> Response:
    caller = require(request, READ_APPS)
    predicate = checked_filter(request, APP_FILTERABLE, "applications", frozenset(), consistency(request))
    shown = [apps.application(a) for a in _own_apps(caller)]
    items = [dumps(a) for a in shown if predicate is None or predicate(a)]
    return collection(request, "applications", items)


@router.get("/applications(appId='{app_id}')")
@router.get("/applications/{object_id}")
async def get_application(request: Request, object_id: str | None = None, app_id: str | None = None) -> Response:
    caller = require(request, READ_APPS)
    app = next((a for a in _own_apps(caller) if object_id in (a.id,) or app_id == a.app_id), None)
    if app is None:
        raise not_found(object_id or str(app_id))
    return entity(request, "applications/$entity", dumps(apps.application(app)))


@router.get("/servicePrincipals")
async def list_service_principals(request: Request) -> Response:
    caller = require(request, READ_APPS)
    directory = sim_of(request).directory
    predicate = checked_filter(request, APP_FILTERABLE, "servicePrincipals", frozenset(), consistency(request))
    shown = [apps.service_principal(directory, caller.tenant, sp) for sp in caller.tenant.service_principals.values()]
    items = [dumps(sp) for sp in shown if predicate is None or predicate(sp)]
    return collection(request, "servicePrincipals", items)


@router.get("/servicePrincipals(appId='{app_id}')")
@router.get("/servicePrincipals/{object_id}")
async def get_service_principal(request: Request, object_id: str | None = None, app_id: str | None = None) -> Response:
    caller = require(request, READ_APPS)
    sps = caller.tenant.service_principals.values()
    sp = next((s for s in sps if object_id == s.id or app_id == s.app_id), None)
    if sp is None:
        raise not_found(object_id or str(app_id))
    shown = apps.service_principal(sim_of(request).directory, caller.tenant, sp)
    return entity(request, "servicePrincipals/$entity", dumps(shown))

"""``/api/v1/organizations/{org}/users|groups``: the directory, read-only (thin routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from koppel.api.deps import ApiKeyDep, SessionDep
from koppel.directory import queries
from koppel.directory.schemas import GroupOut, GroupPage, UserDetail, UserPage
from koppel.organizations.routes import owned_organization

router = APIRouter(prefix="/api/v1/organizations/{org}", tags=["directory"])
Limit = Annotated[int, Query(ge=1, le=queries.MAX_LIMIT, description="Page size.")]
After = Annotated[str | None, Query(max_length=64, description="The `next_cursor` of the previous page.")]
ConnectionFilter = Annotated[str | None, Query(max_length=36, description="Only this connection's.")]
Text = Annotated[str | None, Query(max_length=200, description="Part of the name, user name or e-mail.")]


@router.get("/users", response_model=UserPage)
def list_users(
    org: str,
    session: SessionDep,
    key: ApiKeyDep,
    status: Annotated[str | None, Query(pattern="^(active|deactivated)$")] = None,
    connection_id: ConnectionFilter = None,
    q: Text = None,
    after: After = None,
    limit: Limit = 100,
) -> UserPage:
    found = owned_organization(session, key, org)
    page = queries.list_users(
        session=session, org_id=found.id, status=status, connection_id=connection_id, text=q, after=after, limit=limit
    )
    return UserPage.model_validate({"data": page.items, "next_cursor": page.next_cursor}, from_attributes=True)


@router.get("/users/{user_id}", response_model=UserDetail)
def read_user(org: str, user_id: str, session: SessionDep, key: ApiKeyDep) -> UserDetail:
    found = owned_organization(session, key, org)
    user = queries.get_user(session=session, org_id=found.id, user_id=user_id)
    detail = UserDetail.model_validate(user)
    detail.group_ids = queries.group_ids_of(session=session, user_id=user.id)
    return detail


@router.get("/groups", response_model=GroupPage)
def list_groups(
    org: str,
    session: SessionDep,
    key: ApiKeyDep,
    connection_id: ConnectionFilter = None,
    q: Text = None,
    after: After = None,
    limit: Limit = 100,
) -> GroupPage:
    found = owned_organization(session, key, org)
    page = queries.list_groups(
        session=session, org_id=found.id, connection_id=connection_id, text=q, after=after, limit=limit
    )
    return GroupPage.model_validate({"data": page.items, "next_cursor": page.next_cursor}, from_attributes=True)


@router.get("/groups/{group_id}", response_model=GroupOut)
def read_group(org: str, group_id: str, session: SessionDep, key: ApiKeyDep) -> GroupOut:
    found = owned_organization(session, key, org)
    return GroupOut.model_validate(queries.get_group(session=session, org_id=found.id, group_id=group_id))


@router.get("/groups/{group_id}/members", response_model=UserPage)
def list_members(
    org: str, group_id: str, session: SessionDep, key: ApiKeyDep, after: After = None, limit: Limit = 100
) -> UserPage:
    found = owned_organization(session, key, org)
    page = queries.list_members(session=session, org_id=found.id, group_id=group_id, after=after, limit=limit)
    return UserPage.model_validate({"data": page.items, "next_cursor": page.next_cursor}, from_attributes=True)

"""Reading the directory: filters and cursor pagination (the management API's view).

Pages are ordered by koppel id; the cursor is the last id of the previous page, so a page is
one index range scan however deep the reader is, and rows written meanwhile are neither
skipped nor repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from koppel.directory.models import USER_STATUSES, DirectoryGroup, DirectoryUser, Membership
from koppel.errors import InvalidInput, NotFound

T = TypeVar("T")
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def _contains(column: Any, text: str) -> Any:
    return column.ilike(f"%{text}%", escape="\\") if text else None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _page(session: Session, query: Select[Any], id_column: Any, after: str | None, limit: int) -> Page[Any]:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if after:
        query = query.where(id_column > after)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more else None)


def list_users(
    *,
    session: Session,
    org_id: str,
    status: str | None = None,
    connection_id: str | None = None,
    text: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[DirectoryUser]:
    query = select(DirectoryUser).where(DirectoryUser.org_id == org_id)
    if status is not None:
        if status not in USER_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(USER_STATUSES)}", field="status")
        query = query.where(DirectoryUser.status == status)
    if connection_id:
        query = query.where(DirectoryUser.connection_id == connection_id)
    if text and text.strip():
        pattern = _escape(text.strip())
        columns = (DirectoryUser.user_name, DirectoryUser.email, DirectoryUser.display_name)
        query = query.where(or_(*(_contains(c, pattern) for c in columns)))
    return _page(session, query, DirectoryUser.id, after, limit)


def list_groups(
    *,
    session: Session,
    org_id: str,
    connection_id: str | None = None,
    text: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[DirectoryGroup]:
    query = select(DirectoryGroup).where(DirectoryGroup.org_id == org_id)
    if connection_id:
        query = query.where(DirectoryGroup.connection_id == connection_id)
    if text and text.strip():
        query = query.where(_contains(DirectoryGroup.display_name, _escape(text.strip())))
    return _page(session, query, DirectoryGroup.id, after, limit)


def get_user(*, session: Session, org_id: str, user_id: str) -> DirectoryUser:
    user = session.get(DirectoryUser, user_id)
    if user is None or user.org_id != org_id:
        raise NotFound(f"no user {user_id!r} in this organization")
    return user


def get_group(*, session: Session, org_id: str, group_id: str) -> DirectoryGroup:
    group = session.get(DirectoryGroup, group_id)
    if group is None or group.org_id != org_id:
        raise NotFound(f"no group {group_id!r} in this organization")
    return group


def group_ids_of(*, session: Session, user_id: str) -> list[str]:
    return list(session.scalars(select(Membership.group_id).where(Membership.user_id == user_id)))


def list_members(
    *, session: Session, org_id: str, group_id: str, after: str | None = None, limit: int = 100
) -> Page[DirectoryUser]:
    get_group(session=session, org_id=org_id, group_id=group_id)
    query = select(DirectoryUser).join(Membership, Membership.user_id == DirectoryUser.id)
    query = query.where(Membership.group_id == group_id)
    return _page(session, query, DirectoryUser.id, after, limit)

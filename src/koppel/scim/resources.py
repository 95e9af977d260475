"""SCIM Users and Groups over the directory: reads by SQL, writes through ``apply_changes``.

The SCIM ``id`` of a resource is its directory ``external_id`` in the organization's ``scim``
connection (assigned by koppel at creation). The SCIM document as received (canonicalised) is kept
in ``attributes["scim"]``; the directory columns (user_name, email, names, ...) are derived from it
so Graph-synced and SCIM-pushed users read the same to the host app.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select, text, true
from sqlalchemy.orm import Session

from koppel.db.base import new_id
from koppel.db.direct import Direct
from koppel.directory.changes import ChangeResult, ChangeSet, GroupRecord, UserRecord
from koppel.directory.models import DirectoryGroup, DirectoryUser, Membership
from koppel.directory.service import apply_changes, read_groups, read_user_ids, read_users
from koppel.errors import NotFound
from koppel.scim.errors import ScimError, invalid_value, not_found, uniqueness
from koppel.scim.protocol.filter import Compare, parse_filter
from koppel.scim.protocol.patch import apply_patch
from koppel.scim.protocol.project import project
from koppel.scim.protocol.resource import check_immutable, check_required, normalize
from koppel.scim.protocol.schemas import ENTERPRISE_SCHEMA, GROUP, GROUP_SCHEMA, USER_SCHEMA
from koppel.scim.query import translate
from koppel.scim.service import ScimContext

MAX_COUNT = 1000  # ServiceProviderConfig filter.maxResults

_USER_COLS = (DirectoryUser.external_id, DirectoryUser.attributes, DirectoryUser.created_at, DirectoryUser.updated_at)
_GROUP_COLS = (
    DirectoryGroup.id,
    DirectoryGroup.external_id,
    DirectoryGroup.attributes,
    DirectoryGroup.created_at,
    DirectoryGroup.updated_at,
)


_U = DirectoryUser.__table__.c
_G = DirectoryGroup.__table__.c
# The hot statements, compiled once and run on the driver's cursor (koppel.db.direct).
_USER_ROW = (_U.external_id, _U.attributes, _U.created_at, _U.updated_at)
_USER_BY_ID = Direct(select(*_USER_ROW).where(_U.connection_id == bindparam("conn"), _U.external_id == bindparam("id")))


# The case-insensitive userName lookups, two per user in Entra's provisioning (its query, then the
# uniqueness check of the create), are prepared statements like the rest. A prepared statement soon
# runs a generic plan, and one made while the table is empty or not analyzed yet (the first minute
# of an initial provisioning) rates every index on a compared column alike and may pick
# (org_id, status) or (connection_id, external_id), filtering every user of the organization on each
# lookup until the next ANALYZE. The org and connection comparisons are therefore wrapped in
# ``IS TRUE``, which no index can serve: the only candidate left is the index on user_name_key.
def _not_an_index_condition(*conditions: Any) -> Any:
    return and_(*conditions).is_(true())


_USER_BY_NAME = Direct(
    select(*_USER_ROW).where(
        _U.user_name_key == func.lower(bindparam("v")),
        _not_an_index_condition(_U.org_id == bindparam("org"), _U.connection_id == bindparam("conn")),
    )
)
_USER_NAME_OWNERS = Direct(
    select(_U.connection_id, _U.external_id)
    .where(_U.user_name_key == func.lower(bindparam("v")), _not_an_index_condition(_U.org_id == bindparam("org")))
    .limit(2)
)
_GROUP_ROW = (_G.id, _G.external_id, _G.attributes, _G.created_at, _G.updated_at)
_GROUP_BY_ID = Direct(
    select(*_GROUP_ROW).where(_G.connection_id == bindparam("conn"), _G.external_id == bindparam("id"))
)
_GROUP_BY_NAME = Direct(
    select(*_GROUP_ROW).where(_G.connection_id == bindparam("conn"), _G.display_name_key == func.lower(bindparam("v"))),
    prepare=False,
)
_GROUP_NAME_OWNERS = Direct(
    select(_G.external_id).where(
        _G.connection_id == bindparam("conn"), _G.display_name_key == func.lower(bindparam("v"))
    ),
    prepare=False,
)
_MEMBERS = select(Membership.group_id, DirectoryUser.external_id, DirectoryUser.display_name).join(
    DirectoryUser, DirectoryUser.id == Membership.user_id
)
_MEMBER_ORDER = (Membership.created_at, DirectoryUser.external_id)
_MEMBERS_OF_ONE = Direct(_MEMBERS.where(Membership.group_id == bindparam("group")).order_by(*_MEMBER_ORDER))
_CONNECTION_LOCK = Direct(text("SELECT pg_advisory_xact_lock(7, :key)"))
_HELD = "koppel_scim_lock_held"


def _eq_lookup(node: Any, attr: str) -> str | None:
    """The value of ``attr eq "value"`` (core attribute, no sub-attribute), else None."""
    if (
        isinstance(node, Compare)
        and node.op == "eq"
        and isinstance(node.value, str)
        and node.path.attr.lower() == attr
        and node.path.sub is None
        and (node.path.urn is None or node.path.urn.lower().startswith("urn:ietf:params:scim:schemas:core:2.0:"))
    ):
        return node.value
    return None


def _slice(rows: list[Any], start_index: int, count: int) -> list[Any]:
    count = max(0, min(count, MAX_COUNT))
    return rows[start_index - 1 : start_index - 1 + count]


@dataclass(frozen=True)
class Page:
    total: int
    start_index: int
    resources: list[dict[str, Any]]


@dataclass(frozen=True)
class Projection:
    attributes: list[str]
    excluded: list[str]

    def wants_members(self) -> bool:
        if self.attributes:
            return any(a.lower().split(".")[0].rsplit(":", 1)[-1] == "members" for a in self.attributes)
        return not any(a.lower().rsplit(":", 1)[-1] == "members" for a in self.excluded)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _lock(session: Session, ctx: ScimContext) -> None:
    """Serialise writes to one organization's SCIM data: uniqueness checks and member deltas stay exact.

    SQLite serialises writers already (BEGIN IMMEDIATE); PostgreSQL takes a transaction-scoped lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(ctx.connection_id.encode()) - 2**31
        held = (session.get_transaction(), key)
        if session.info.get(_HELD) == held:
            return  # taken already by an earlier request of this transaction (a batch: koppel.scim.handler)
        _CONNECTION_LOCK.rows(session.connection(), {"key": key})
        session.info[_HELD] = held


def _fit(value: Any, size: int) -> str | None:
    return value[:size] if isinstance(value, str) else None


# -- users -----------------------------------------------------------------------------------
def render_user(
    ctx: ScimContext, ext_id: str, doc: dict[str, Any], created: datetime, updated: datetime
) -> dict[str, Any]:
    schemas = [USER_SCHEMA] + [k for k in doc if k[:4] == "urn:"]
    return {
        "schemas": schemas,
        "id": ext_id,
        **doc,
        "meta": {
            "resourceType": "User",
            "created": _iso(created),
            "lastModified": _iso(updated),
            "location": f"{ctx.base}/Users/{ext_id}",
        },
    }


def _typed(items: Any, kind: str) -> Any:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict) and str(item.get("type", "")).lower() == kind:
            return item.get("value")
    return None


def _email(doc: dict[str, Any]) -> Any:
    emails = doc.get("emails")
    if not isinstance(emails, list) or not emails:
        return None
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary") is True), None)
    chosen = primary or next((e for e in emails if isinstance(e, dict) and e.get("type") == "work"), emails[0])
    return chosen.get("value") if isinstance(chosen, dict) else None


def user_record(ext_id: str, doc: dict[str, Any]) -> UserRecord:
    name = doc.get("name") or {}
    enterprise = doc.get(ENTERPRISE_SCHEMA) or {}
    user_name = doc["userName"]
    if len(user_name) > 320:
        raise invalid_value("userName is longer than 320 characters")
    return UserRecord(
        external_id=ext_id,
        user_name=user_name,
        email=_fit(_email(doc), 320),
        display_name=_fit(doc.get("displayName"), 256),
        given_name=_fit(name.get("givenName"), 128),
        family_name=_fit(name.get("familyName"), 128),
        job_title=_fit(doc.get("title"), 128),
        department=_fit(enterprise.get("department"), 128),
        mobile_phone=_fit(_typed(doc.get("phoneNumbers"), "mobile"), 64),
        business_phone=_fit(_typed(doc.get("phoneNumbers"), "work"), 64),
        user_type=_fit(doc.get("userType"), 16),
        account_enabled=bool(doc.get("active", True)),
        attributes={"scim": doc},
    )


def _check_user_name(session: Session, ctx: ScimContext, user_name: str, self_id: str | None) -> None:
    for conn_id, ext_id in _USER_NAME_OWNERS.rows(session.connection(), {"org": ctx.org_id, "v": user_name}):
        if conn_id == ctx.connection_id and ext_id == self_id:
            continue
        if conn_id != ctx.connection_id:
            raise uniqueness(
                f"userName {user_name!r} belongs to a user of another connection of this organization "
                "(e.g. Graph sync); a user is owned by one connection. Remove it there or change the userName."
            )
        raise uniqueness(f"userName {user_name!r} is already taken by user {ext_id} in this organization")


def _load_user(session: Session, ctx: ScimContext, ext_id: str) -> Any:
    rows = _USER_BY_ID.rows(session.connection(), {"conn": ctx.connection_id, "id": ext_id})
    if not rows:
        raise not_found(f"no User with id {ext_id!r} in this organization")
    return rows[0]


def _current_user(session: Session, ctx: ScimContext, ext_id: str, lock: bool = False) -> dict[str, Any]:
    """The full row, read under ``_lock`` or locked itself (``lock``): handed to ``apply_changes`` so it
    does not read it again."""
    rows = read_users(session=session, connection_id=ctx.connection_id, external_ids=[ext_id], lock=lock)
    if ext_id not in rows:
        raise not_found(f"no User with id {ext_id!r} in this organization")
    return rows[ext_id]


def _doc(attributes: Any) -> dict[str, Any]:
    doc = (attributes or {}).get("scim")
    return dict(doc) if isinstance(doc, dict) else {}


def get_user(*, session: Session, ctx: ScimContext, user_id: str) -> dict[str, Any]:
    ext_id, attributes, created, updated = _load_user(session, ctx, user_id)
    return render_user(ctx, ext_id, _doc(attributes), created, updated)


def query_users(*, session: Session, ctx: ScimContext, filter_text: str | None, start_index: int, count: int) -> Page:
    node = parse_filter(filter_text) if filter_text else None
    user_name = _eq_lookup(node, "username")
    if user_name is not None:  # Entra's matching query: one indexed lookup
        found = _USER_BY_NAME.rows(session.connection(), {"org": ctx.org_id, "conn": ctx.connection_id, "v": user_name})
        resources = [
            render_user(ctx, ext, _doc(attributes), created, updated) for ext, attributes, created, updated in found
        ]
        return Page(len(resources), start_index, _slice(resources, start_index, count))
    # org_id too: lets the planner use (user_name_key, org_id) for userName filters.
    q = select(*_USER_COLS).where(DirectoryUser.org_id == ctx.org_id, DirectoryUser.connection_id == ctx.connection_id)
    if node is not None:
        dialect = session.get_bind().dialect.name
        q = q.where(translate(node, ctx.user_def, DirectoryUser, dialect))
    rows, total = _page(session, q, DirectoryUser.id, start_index, count)
    resources = [render_user(ctx, r.external_id, _doc(r.attributes), r.created_at, r.updated_at) for r in rows]
    return Page(total, start_index, resources)


def _page(session: Session, q: Any, order: Any, start_index: int, count: int) -> tuple[list[Any], int]:
    count = max(0, min(count, MAX_COUNT))
    rows = list(session.execute(q.order_by(order).offset(start_index - 1).limit(count))) if count else []
    if start_index == 1 and len(rows) < count:
        return rows, len(rows)  # the whole result is on this page: no COUNT(*) needed
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return rows, int(total)


def create_user(*, session: Session, ctx: ScimContext, body: Any, now: datetime) -> dict[str, Any]:
    doc, _ = normalize(ctx.user_def, body)
    check_required(ctx.user_def, doc)
    doc.setdefault("active", True)
    _lock(session, ctx)
    _check_user_name(session, ctx, doc["userName"], None)
    ext_id = new_id()  # a fresh id: apply_changes need not look for a stored user
    changes = ChangeSet(org_id=ctx.org_id, connection_id=ctx.connection_id, upsert_users=[user_record(ext_id, doc)])
    apply_changes(session=session, changes=changes, now=now, current_users={ext_id: None})
    return render_user(ctx, ext_id, doc, now, now)


def _write_user(
    session: Session,
    ctx: ScimContext,
    ext_id: str,
    old: dict[str, Any],
    new: dict[str, Any],
    row: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    check_required(ctx.user_def, new)
    check_immutable(ctx.user_def, old, new)
    if new == old:
        return render_user(ctx, ext_id, new, row["created_at"], row["updated_at"])
    if new["userName"] != old.get("userName"):
        _lock(session, ctx)  # a rename checks uniqueness like a create (after the row lock: no deadlock)
        _check_user_name(session, ctx, new["userName"], ext_id)
    changes = ChangeSet(org_id=ctx.org_id, connection_id=ctx.connection_id, upsert_users=[user_record(ext_id, new)])
    apply_changes(session=session, changes=changes, now=now, current_users={ext_id: row})
    return render_user(ctx, ext_id, new, row["created_at"], now)


def patch_user(*, session: Session, ctx: ScimContext, user_id: str, body: Any, now: datetime) -> dict[str, Any]:
    # Only this user's row is locked (no connection-wide lock, one round trip less): concurrent PATCHes
    # of one user apply one after the other; a rename also takes _lock for its uniqueness check.
    row = _current_user(session, ctx, user_id, lock=True)
    old = _doc(row["attributes"])
    new, _ = apply_patch(ctx.user_def, old, body)
    return _write_user(session, ctx, user_id, old, new, row, now)


def replace_user(*, session: Session, ctx: ScimContext, user_id: str, body: Any, now: datetime) -> dict[str, Any]:
    new, _ = normalize(ctx.user_def, body)
    row = _current_user(session, ctx, user_id, lock=True)  # as in patch_user
    return _write_user(session, ctx, user_id, _doc(row["attributes"]), new, row, now)


def delete_user(*, session: Session, ctx: ScimContext, user_id: str, now: datetime) -> None:
    _lock(session, ctx)
    row = _current_user(session, ctx, user_id)
    changes = ChangeSet(org_id=ctx.org_id, connection_id=ctx.connection_id, delete_users=[user_id])
    apply_changes(session=session, changes=changes, now=now, current_users={user_id: row})


# -- groups ----------------------------------------------------------------------------------
def render_group(
    ctx: ScimContext,
    ext_id: str,
    doc: dict[str, Any],
    created: datetime,
    updated: datetime,
    members: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": ext_id, **doc}
    if members is not None:
        out["members"] = members
    out["meta"] = {
        "resourceType": "Group",
        "created": _iso(created),
        "lastModified": _iso(updated),
        "location": f"{ctx.base}/Groups/{ext_id}",
    }
    return out


def _members_of(session: Session, ctx: ScimContext, group_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Members of several groups in one query (no N+1)."""
    out: dict[str, list[dict[str, Any]]] = {g: [] for g in group_ids}
    if not group_ids:
        return out
    if len(group_ids) == 1:  # GET /Groups/{id}
        rows: Any = _MEMBERS_OF_ONE.rows(session.connection(), {"group": group_ids[0]})
    else:
        rows = session.execute(_MEMBERS.where(Membership.group_id.in_(group_ids)).order_by(*_MEMBER_ORDER))
    for group_id, ext_id, display in rows:
        member: dict[str, Any] = {"value": ext_id, "$ref": f"{ctx.base}/Users/{ext_id}", "type": "User"}
        if display:
            member["display"] = display
        out[group_id].append(member)
    return out


def _load_group(session: Session, ctx: ScimContext, ext_id: str) -> Any:
    rows = _GROUP_BY_ID.rows(session.connection(), {"conn": ctx.connection_id, "id": ext_id})
    if not rows:
        raise not_found(f"no Group with id {ext_id!r} in this organization")
    return rows[0]


def get_group(*, session: Session, ctx: ScimContext, group_id: str, with_members: bool = True) -> dict[str, Any]:
    row_id, ext_id, attributes, created, updated = _load_group(session, ctx, group_id)
    members = _members_of(session, ctx, [row_id])[row_id] if with_members else None
    return render_group(ctx, ext_id, _doc(attributes), created, updated, members)


def query_groups(
    *, session: Session, ctx: ScimContext, filter_text: str | None, start_index: int, count: int, with_members: bool
) -> Page:
    node = parse_filter(filter_text) if filter_text else None
    name = _eq_lookup(node, "displayname")
    if name is not None:  # Entra's group matching query: one indexed lookup
        found = _GROUP_BY_NAME.rows(session.connection(), {"conn": ctx.connection_id, "v": name})
        total, rows = len(found), _slice(found, start_index, count)
    else:
        q = select(*_GROUP_COLS).where(DirectoryGroup.connection_id == ctx.connection_id)
        if node is not None:
            q = q.where(translate(node, GROUP, DirectoryGroup, session.get_bind().dialect.name))
        rows, total = _page(session, q, DirectoryGroup.id, start_index, count)
    members = _members_of(session, ctx, [r[0] for r in rows]) if with_members else {}
    resources = [
        render_group(ctx, ext, _doc(attributes), created, updated, members[row_id] if with_members else None)
        for row_id, ext, attributes, created, updated in rows
    ]
    return Page(total, start_index, resources)


def _check_display_name(session: Session, ctx: ScimContext, name: str, self_id: str | None) -> None:
    for (ext_id,) in _GROUP_NAME_OWNERS.rows(session.connection(), {"conn": ctx.connection_id, "v": name}):
        if ext_id != self_id:
            raise uniqueness(f"a Group named {name!r} already exists (id {ext_id}); group displayName is unique")


def group_record(ext_id: str, doc: dict[str, Any]) -> GroupRecord:
    name = doc["displayName"]
    if len(name) > 256:
        raise invalid_value("displayName is longer than 256 characters")
    return GroupRecord(external_id=ext_id, display_name=name, group_type="scim", attributes={"scim": doc})


def _known_users(session: Session, ctx: ScimContext, ids: list[str]) -> dict[str, str]:
    """SCIM id (external_id) -> directory id of the Users among ``ids``."""
    return read_user_ids(session=session, connection_id=ctx.connection_id, external_ids=ids) if ids else {}


def _require_users(session: Session, ctx: ScimContext, ids: list[str], also: Sequence[str] = ()) -> dict[str, str]:
    """Like ``_known_users`` for ``ids`` and ``also``; every one of ``ids`` must be a User."""
    known = _known_users(session, ctx, list(dict.fromkeys([*ids, *also])))
    missing = [i for i in ids if i not in known]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise invalid_value(f"members must be Users of this organization; unknown id(s): {shown}")
    return known


def _current_group(session: Session, ctx: ScimContext, ext_id: str) -> dict[str, Any]:
    """The full row, read under ``_lock``: handed to ``apply_changes`` so it does not read it again."""
    rows = read_groups(session=session, connection_id=ctx.connection_id, external_ids=[ext_id])
    if ext_id not in rows:
        raise not_found(f"no Group with id {ext_id!r} in this organization")
    return rows[ext_id]


def create_group(*, session: Session, ctx: ScimContext, body: Any, now: datetime) -> dict[str, Any]:
    doc, members = normalize(GROUP, body)
    check_required(GROUP, doc)
    member_ids = list(dict.fromkeys(m["value"] for m in members or [] if isinstance(m.get("value"), str)))
    _lock(session, ctx)
    _check_display_name(session, ctx, doc["displayName"], None)
    known = _require_users(session, ctx, member_ids)
    ext_id = new_id()  # a fresh id: apply_changes need not look for a stored group
    changes = ChangeSet(org_id=ctx.org_id, connection_id=ctx.connection_id, upsert_groups=[group_record(ext_id, doc)])
    if member_ids:
        changes.set_members = {ext_id: member_ids}
    result = _apply(session, changes, now, current_groups={ext_id: None}, user_ids=known)
    group_id = result.group_ids[ext_id]
    listed = _members_of(session, ctx, [group_id])[group_id] if member_ids else []
    return render_group(ctx, ext_id, doc, now, now, listed)


def _apply(session: Session, changes: ChangeSet, now: datetime, **known: Any) -> ChangeResult:
    try:
        return apply_changes(session=session, changes=changes, now=now, **known)
    except NotFound as exc:  # a member id that is not a user of this connection
        raise invalid_value(exc.detail) from exc


def patch_group(*, session: Session, ctx: ScimContext, group_id: str, body: Any, now: datetime) -> None:
    _lock(session, ctx)
    row = _current_group(session, ctx, group_id)
    old = _doc(row["attributes"])
    new, delta = apply_patch(GROUP, old, body)
    _write_group(session, ctx, row, old, new, now, delta.add, delta.remove, delta.replace)


def _write_group(
    session: Session,
    ctx: ScimContext,
    row: dict[str, Any],
    old: dict[str, Any],
    new: dict[str, Any],
    now: datetime,
    add: list[str],
    remove: list[str],
    replace: list[str] | None,
) -> None:
    group_id = row["external_id"]
    check_required(GROUP, new)
    check_immutable(GROUP, old, new)
    changes = ChangeSet(org_id=ctx.org_id, connection_id=ctx.connection_id)
    if new != old:
        if new["displayName"] != old.get("displayName"):
            _check_display_name(session, ctx, new["displayName"], group_id)
        changes.upsert_groups = [group_record(group_id, new)]
    if replace is not None:
        known = _require_users(session, ctx, replace)
        changes.set_members = {group_id: replace}
    else:
        known = _require_users(session, ctx, add, also=remove)  # removing a user that is gone is a no-op
        gone = [u for u in remove if u in known]
        changes.add_members = [(group_id, u) for u in add]
        changes.remove_members = [(group_id, u) for u in gone]
    if changes.upsert_groups or changes.set_members or changes.add_members or changes.remove_members:
        _apply(session, changes, now, current_groups={group_id: row}, user_ids=known)


def replace_group(*, session: Session, ctx: ScimContext, group_id: str, body: Any, now: datetime) -> dict[str, Any]:
    new, members = normalize(GROUP, body)
    ids = list(dict.fromkeys(m["value"] for m in members or [] if isinstance(m.get("value"), str)))
    _lock(session, ctx)
    row = _current_group(session, ctx, group_id)
    _write_group(session, ctx, row, _doc(row["attributes"]), new, now, [], [], ids)
    return get_group(session=session, ctx=ctx, group_id=group_id)


def delete_group(*, session: Session, ctx: ScimContext, group_id: str, now: datetime) -> None:
    _lock(session, ctx)
    row = _current_group(session, ctx, group_id)
    changes = ChangeSet(org_id=ctx.org_id, connection_id=ctx.connection_id, delete_groups=[group_id])
    apply_changes(session=session, changes=changes, now=now, current_groups={group_id: row})


def projected(resource: dict[str, Any], core_urn: str, projection: Projection) -> dict[str, Any]:
    return project(resource, core_urn, projection.attributes, projection.excluded)


__all__ = ["Page", "Projection", "ScimError"]

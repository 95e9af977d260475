"""The one directory writer. Every change appends its event in the same transaction.

Callers (Graph sync, SCIM, invitations) describe what the source says in a ``ChangeSet``;
``apply_changes`` diffs it against what is stored, writes only real changes, and returns counts.
Any error raises and the caller's transaction rolls back: nothing is half-written.

The writes are Core statements built once (no ORM unit of work per call): the directory is hot
under SCIM and Graph sync. ORM objects of touched rows that the caller holds in its session are
expired afterwards, so the caller reads what was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Connection, any_, bindparam, delete, func, insert, select, text, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from koppel.db.base import UTCDateTime, new_id
from koppel.db.direct import Direct
from koppel.directory.changes import (
    GROUP_FIELDS,
    USER_FIELDS,
    ChangeResult,
    ChangeSet,
    GroupRecord,
    UserRecord,
)
from koppel.directory.models import DirectoryGroup, DirectoryUser, Membership
from koppel.errors import NotFound
from koppel.events.log import NewEvent, append

CHUNK = 500
T = TypeVar("T")

_U = DirectoryUser.__table__.c
_G = DirectoryGroup.__table__.c
_M = Membership.__table__.c
_USER_COLS = ("id", "external_id", "connection_id", "status", "created_at", "updated_at", *USER_FIELDS)
_GROUP_COLS = ("id", "external_id", "connection_id", "created_at", "updated_at", *GROUP_FIELDS)
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)


def _in_ids(column: Any) -> Any:
    return column.in_(_IDS)


def _json_ids(column: Any) -> Any:
    ids = select(func.jsonb_array_elements_text(bindparam("ids", type_=JSONB()))).scalar_subquery()
    return column == any_(func.array(ids))


def _probe_each(build: Callable[[Callable[[Any], Any]], Any]) -> Any:
    """``SELECT … FROM jsonb_array_elements_text(:ids) AS i(v), LATERAL (<query for column = i.v> OFFSET 0)``.

    One index probe per id, whatever the statistics say: on a table that grew since it was last
    analyzed (a provisioning run), the planner takes ``connection_id = :c AND external_id = ANY(:ids)``
    for a one-row match on connection_id and filters every row of the connection instead.
    """
    ids = func.jsonb_array_elements_text(bindparam("ids", type_=JSONB())).table_valued("v").render_derived(name="i")
    probe = build(lambda column: column == ids.c.v).offset(0).lateral("x")
    return select(*probe.c).select_from(ids).join(probe, true())


class _ByIds:
    """A statement over a list of ids: ``= :id`` for one (a SCIM request); for several, one index probe
    per id on PostgreSQL (``_probe_each``; a DELETE takes ``= ANY(ARRAY(...))``) and an expanding ``IN``
    per chunk on SQLite.

    On PostgreSQL the ids travel as one JSON parameter: the statement text stays the same for any
    count, so psycopg caches its parsed form and PostgreSQL prepares it (psycopg re-parses a
    statement of more than 50 parameters on every call), and a JSON string costs psycopg far less
    to send than a text array, whose elements it escapes one by one in Python.
    """

    def __init__(self, build: Callable[[Callable[[Any], Any]], Any], *, delete: bool = False) -> None:
        self.core, self.one = build(_in_ids), Direct(build(lambda column: column == bindparam("id")))
        self.pg = Direct(build(_json_ids) if delete else _probe_each(build))

    def rows(self, conn: Connection, params: dict[str, Any], ids: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        for stmt, values in self._calls(conn, params, ids):
            yield from stmt.rows(conn, values) if isinstance(stmt, Direct) else conn.execute(stmt, values)

    def run(self, conn: Connection, params: dict[str, Any], ids: Sequence[str]) -> None:
        for stmt, values in self._calls(conn, params, ids):
            if isinstance(stmt, Direct):
                stmt.run(conn, values)
            else:
                conn.execute(stmt, values)

    def _calls(
        self, conn: Connection, params: dict[str, Any], ids: Sequence[str]
    ) -> Iterator[tuple[Any, dict[str, Any]]]:
        """(statement, parameters) per call: a ``Direct`` one, or Core for SQLite's expanding IN chunks."""
        if len(ids) == 1:
            yield self.one, {**params, "id": ids[0]}
        elif ids and conn.dialect.name == "postgresql":
            yield self.pg, {**params, "ids": list(ids)}
        else:
            for part in chunks(ids):
                yield self.core, {**params, "ids": part}


def _users(ids: Callable[[Any], Any]) -> Any:
    return select(*(_U[c] for c in _USER_COLS)).where(_U.connection_id == bindparam("conn"), ids(_U.external_id))


_LOAD_USERS = _ByIds(_users)
_LOAD_USERS_LOCKED = _ByIds(lambda ids: _users(ids).with_for_update(key_share=True))
_LOAD_USER_IDS = _ByIds(
    lambda ids: select(_U.external_id, _U.id).where(_U.connection_id == bindparam("conn"), ids(_U.external_id))
)
_LOAD_GROUPS = _ByIds(
    lambda ids: select(*(_G[c] for c in _GROUP_COLS)).where(_G.connection_id == bindparam("conn"), ids(_G.external_id))
)
_INSERT_USER = Direct(insert(DirectoryUser.__table__))  # type: ignore[arg-type]
_INSERT_GROUP = Direct(insert(DirectoryGroup.__table__))  # type: ignore[arg-type]
# SET columns come from the parameter keys; the row is named by "_id".
_UPDATE_USER = Direct(update(DirectoryUser.__table__).where(_U.id == bindparam("_id")))  # type: ignore[arg-type]
_UPDATE_GROUP = Direct(update(DirectoryGroup.__table__).where(_G.id == bindparam("_id")))  # type: ignore[arg-type]
_DELETE_USERS = delete(DirectoryUser.__table__).where(_U.id.in_(_IDS))  # type: ignore[arg-type]
_DELETE_GROUPS = delete(DirectoryGroup.__table__).where(_G.id.in_(_IDS))  # type: ignore[arg-type]
_MEMBERS = select(_M.user_id).where(_M.group_id == bindparam("group"))
_MEMBERS_AMONG = _ByIds(lambda ids: select(_M.user_id).where(_M.group_id == bindparam("group"), ids(_M.user_id)))
_INSERT_MEMBERSHIP = insert(Membership.__table__)  # type: ignore[arg-type]
# PostgreSQL: a group's new memberships in one statement, the user ids as one JSON array (see _ByIds).
_INSERT_MEMBERSHIPS_PG = Direct(
    text(
        "INSERT INTO directory_memberships (group_id, user_id, created_at) "
        "SELECT :group, u, :at FROM jsonb_array_elements_text(CAST(:users AS jsonb)) AS u"
    ).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("users", type_=JSONB()))
)
_DELETE_MEMBERSHIPS = _ByIds(
    lambda ids: delete(Membership.__table__).where(_M.group_id == bindparam("group"), ids(_M.user_id)),  # type: ignore[arg-type]
    delete=True,
)


def apply_changes(
    *,
    session: Session,
    changes: ChangeSet,
    now: datetime,
    current_users: Mapping[str, Mapping[str, Any] | None] | None = None,
    current_groups: Mapping[str, Mapping[str, Any] | None] | None = None,
    user_ids: Mapping[str, str] | None = None,
) -> ChangeResult:
    """Apply ``changes``.

    What the caller read in this transaction under a lock that keeps other writers out (SCIM's
    connection lock, or the rows' own lock: ``read_users(lock=True)``) is not read again:
    ``current_users`` / ``current_groups`` (external_id ->
    row from ``read_users`` / ``read_groups``, or None for an id known not to exist) and ``user_ids``
    (external_id -> id from ``read_user_ids``, enough for membership references).
    """
    session.flush()  # the caller's pending ORM rows first (foreign keys); a no-op when clean
    writer = _Writer(session.connection(), changes, now)
    for ext, row in (current_users or {}).items():
        writer.known.add(ext)
        if row is not None:
            writer.users[ext] = dict(row)
    for ext, user_id in (user_ids or {}).items():
        if ext not in writer.known:
            writer.known_ids.add(ext)
            writer.users[ext] = {"id": user_id, "external_id": ext}
    for ext, row in (current_groups or {}).items():
        writer.known_groups.add(ext)
        if row is not None:
            writer.groups[ext] = dict(row)
    writer.run()
    writer.result.events = append(session, writer.events, now=now)
    _expire_touched(session, writer)
    return writer.result


def read_users(
    *, session: Session, connection_id: str, external_ids: Sequence[str], lock: bool = False
) -> dict[str, dict[str, Any]]:
    """The stored users (every column ``apply_changes`` diffs, plus created_at/updated_at) by external id.

    ``lock``: the rows stay locked until the transaction ends (PostgreSQL ``FOR NO KEY UPDATE``, which
    does not block memberships that reference them; SQLite serialises writers anyway).
    """
    conn = session.connection()
    stmt = _LOAD_USERS_LOCKED if lock else _LOAD_USERS
    rows = stmt.rows(conn, {"conn": connection_id}, sorted(external_ids))
    return {row[1]: dict(zip(_USER_COLS, row, strict=True)) for row in rows}


def read_user_ids(*, session: Session, connection_id: str, external_ids: Sequence[str]) -> dict[str, str]:
    """external_id -> id of the stored users among ``external_ids``."""
    conn = session.connection()
    return {ext: user_id for ext, user_id in _LOAD_USER_IDS.rows(conn, {"conn": connection_id}, sorted(external_ids))}


def read_groups(*, session: Session, connection_id: str, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored groups (every column ``apply_changes`` diffs, plus created_at/updated_at) by external id."""
    conn = session.connection()
    rows = _LOAD_GROUPS.rows(conn, {"conn": connection_id}, sorted(external_ids))
    return {row[1]: dict(zip(_GROUP_COLS, row, strict=True)) for row in rows}


def user_snapshot(user: DirectoryUser | Mapping[str, Any]) -> dict[str, Any]:
    """The user as events carry it (the host-app contract)."""
    get = user.get if isinstance(user, Mapping) else lambda key: getattr(user, key)
    return {
        "id": get("id"),
        "external_id": get("external_id"),
        "connection_id": get("connection_id"),
        "user_name": get("user_name"),
        "email": get("email"),
        "display_name": get("display_name"),
        "given_name": get("given_name"),
        "family_name": get("family_name"),
        "user_type": get("user_type"),
        "status": get("status"),
    }


def group_snapshot(group: DirectoryGroup | Mapping[str, Any]) -> dict[str, Any]:
    get = group.get if isinstance(group, Mapping) else lambda key: getattr(group, key)
    return {
        "id": get("id"),
        "external_id": get("external_id"),
        "connection_id": get("connection_id"),
        "display_name": get("display_name"),
        "group_type": get("group_type"),
    }


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _expire_touched(session: Session, writer: _Writer) -> None:
    """ORM copies of rows written here (if the caller loaded any) must not serve stale values."""
    if not session.identity_map:
        return
    for model, ids in ((DirectoryUser, writer.touched_users), (DirectoryGroup, writer.touched_groups)):
        for row_id in ids:
            obj = session.identity_map.get(identity_key(model, row_id))
            if obj is None:
                continue
            if row_id in writer.deleted:
                session.expunge(obj)
            else:
                session.expire(obj)


class _Writer:
    """Rows are plain dicts; inserts and updates are collected and written in a few executemany calls."""

    def __init__(self, conn: Connection, changes: ChangeSet, now: datetime) -> None:
        self.conn, self.changes, self.now = conn, changes, now
        self.result = ChangeResult()
        self.events: list[NewEvent] = []
        self.users: dict[str, dict[str, Any]] = {}  # external_id -> row (full, or id-only for member references)
        self.known: set[str] = set()  # external ids whose state the caller passed in: not read again
        self.known_ids: set[str] = set()  # ... whose id only the caller passed in (membership references)
        self.known_groups: set[str] = set()
        self.groups: dict[str, dict[str, Any]] = {}
        self.new_users: list[dict[str, Any]] = []
        self.new_groups: list[dict[str, Any]] = []
        self.user_updates: dict[str, dict[str, Any]] = {}  # id -> columns to set
        self.group_updates: dict[str, dict[str, Any]] = {}
        self.touched_users: set[str] = set()
        self.touched_groups: set[str] = set()
        self.deleted: set[str] = set()

    def run(self) -> None:
        c = self.changes
        full = {u.external_id for u in c.upsert_users} | {u for u, _ in c.deactivate_users} | set(c.delete_users)
        for ext in full & self.known_ids:  # an id is not enough for these: read the whole row
            del self.users[ext]
        self._load_users(full - self.known, self._member_refs() - full - self.known - self.known_ids)
        self._load_groups(({g.external_id for g in c.upsert_groups} | self._referenced_groups()) - self.known_groups)
        for group in c.upsert_groups:
            self._upsert_group(group)
        for user in c.upsert_users:
            self._upsert_user(user)
        self._write_rows()
        for group_ext, members in c.set_members.items():
            self._set_members(group_ext, members)
        self._add_members(c.add_members)
        self._remove_members(c.remove_members)
        for ext, reason in c.deactivate_users:
            self._deactivate(self._user(ext), reason)
        self._write_rows()
        for ext in c.delete_users:
            self._delete_user(self._user(ext))
        for ext in c.delete_groups:
            self._delete_group(self._group(ext))
        self.result.user_ids.update({k: u["id"] for k, u in self.users.items()})
        self.result.group_ids.update({k: g["id"] for k, g in self.groups.items()})

    # -- loading -------------------------------------------------------------------------
    def _member_refs(self) -> set[str]:
        c = self.changes
        refs = {u for _, u in c.add_members} | {u for _, u in c.remove_members}
        return refs | {u for members in c.set_members.values() for u in members}

    def _referenced_groups(self) -> set[str]:
        c = self.changes
        return (
            {g for g, _ in c.add_members} | {g for g, _ in c.remove_members} | set(c.set_members) | set(c.delete_groups)
        )

    def _load_users(self, full: Iterable[str], ids_only: Iterable[str]) -> None:
        params = {"conn": self.changes.connection_id}
        for row in _LOAD_USERS.rows(self.conn, params, sorted(full)):
            self.users[row[1]] = dict(zip(_USER_COLS, row, strict=True))
        for ext, user_id in _LOAD_USER_IDS.rows(self.conn, params, sorted(ids_only)):
            self.users[ext] = {"id": user_id, "external_id": ext}

    def _load_groups(self, external_ids: Iterable[str]) -> None:
        for row in _LOAD_GROUPS.rows(self.conn, {"conn": self.changes.connection_id}, sorted(external_ids)):
            self.groups[row[1]] = dict(zip(_GROUP_COLS, row, strict=True))

    def _user(self, external_id: str) -> dict[str, Any]:
        user = self.users.get(external_id)
        if user is None:
            raise NotFound(f"no user with external id {external_id!r} in this connection")
        return user

    def _group(self, external_id: str) -> dict[str, Any]:
        group = self.groups.get(external_id)
        if group is None:
            raise NotFound(f"no group with external id {external_id!r} in this connection")
        return group

    def _event(self, type_: str, subject_id: str, data: dict[str, Any]) -> None:
        self.events.append(NewEvent(type=type_, org_id=self.changes.org_id, subject_id=subject_id, data=data))

    def _set_user(self, user: dict[str, Any], **values: Any) -> None:
        user.update(values)
        if user.get("_new"):
            return  # still to be inserted: the insert carries the values
        self.user_updates.setdefault(user["id"], {}).update(values)

    def _write_rows(self) -> None:
        """Pending inserts and updates, grouped so rows that set the same columns share one executemany."""
        if self.new_groups:
            _write(self.conn, _INSERT_GROUP, [_without_flags(g) for g in self.new_groups])
            self.new_groups = []
        _executemany_grouped(self.conn, _UPDATE_GROUP, self.group_updates)
        self.group_updates = {}
        if self.new_users:
            _write(self.conn, _INSERT_USER, [_without_flags(u) for u in self.new_users])
            for u in self.new_users:
                del u["_new"]
            self.new_users = []
        _executemany_grouped(self.conn, _UPDATE_USER, self.user_updates)
        self.user_updates = {}

    # -- users ---------------------------------------------------------------------------
    def _upsert_user(self, record: UserRecord) -> None:
        user = self.users.get(record.external_id)
        status = "active" if record.account_enabled else "deactivated"
        if user is None:
            user = {
                "id": new_id(),
                "org_id": self.changes.org_id,
                "connection_id": self.changes.connection_id,
                "external_id": record.external_id,
                "status": status,
                "created_at": self.now,
                "updated_at": self.now,
                "deactivated_at": None if record.account_enabled else self.now,
                **{f: getattr(record, f) for f in USER_FIELDS},
                "_new": True,
            }
            self.new_users.append(user)
            self.users[record.external_id] = user
            self.touched_users.add(user["id"])
            self.result.users_created += 1
            self._event("user.created", user["id"], {"user": user_snapshot(user)})
            return
        changed = [f for f in USER_FIELDS if user[f] != getattr(record, f)]
        if changed:
            self._set_user(user, **{f: getattr(record, f) for f in changed}, updated_at=self.now)
            self.touched_users.add(user["id"])
            self.result.users_updated += 1
            self._event("user.updated", user["id"], {"user": user_snapshot(user), "changed": changed})
        if status != user["status"]:
            if status == "active":
                self._reactivate(user)
            else:
                self._deactivate(user, "disabled at the source")

    def _reactivate(self, user: dict[str, Any]) -> None:
        self._set_user(user, status="active", deactivated_at=None, updated_at=self.now)
        self.touched_users.add(user["id"])
        self.result.users_reactivated += 1
        self._event("user.reactivated", user["id"], {"user": user_snapshot(user)})

    def _deactivate(self, user: dict[str, Any], reason: str) -> None:
        if user["status"] == "deactivated":
            return
        self._set_user(user, status="deactivated", deactivated_at=self.now, updated_at=self.now)
        self.touched_users.add(user["id"])
        self.result.users_deactivated += 1
        self._event("user.deactivated", user["id"], {"user": user_snapshot(user), "reason": reason})

    def _delete_user(self, user: dict[str, Any]) -> None:
        self.conn.execute(_DELETE_USERS, {"ids": [user["id"]]})  # memberships go by ON DELETE CASCADE
        del self.users[user["external_id"]]
        self.touched_users.add(user["id"])
        self.deleted.add(user["id"])
        self.result.users_deleted += 1
        self._event("user.deleted", user["id"], {"user": user_snapshot(user)})

    # -- groups --------------------------------------------------------------------------
    def _upsert_group(self, record: GroupRecord) -> None:
        group = self.groups.get(record.external_id)
        if group is None:
            group = {
                "id": new_id(),
                "org_id": self.changes.org_id,
                "connection_id": self.changes.connection_id,
                "external_id": record.external_id,
                "created_at": self.now,
                "updated_at": self.now,
                **{f: getattr(record, f) for f in GROUP_FIELDS},
            }
            self.new_groups.append(group)
            self.groups[record.external_id] = group
            self.touched_groups.add(group["id"])
            self.result.groups_created += 1
            self._event("group.created", group["id"], {"group": group_snapshot(group)})
            return
        changed = [f for f in GROUP_FIELDS if group[f] != getattr(record, f)]
        if changed:
            values = {f: getattr(record, f) for f in changed}
            group.update(values, updated_at=self.now)
            self.group_updates.setdefault(group["id"], {}).update(values, updated_at=self.now)
            self.touched_groups.add(group["id"])
            self.result.groups_updated += 1
            self._event("group.updated", group["id"], {"group": group_snapshot(group), "changed": changed})

    def _delete_group(self, group: dict[str, Any]) -> None:
        self.conn.execute(_DELETE_GROUPS, {"ids": [group["id"]]})
        del self.groups[group["external_id"]]
        self.touched_groups.add(group["id"])
        self.deleted.add(group["id"])
        self.result.groups_deleted += 1
        self._event("group.deleted", group["id"], {"group": group_snapshot(group)})

    # -- memberships ---------------------------------------------------------------------
    def _current_members(self, group_id: str, among: Sequence[str] | None = None) -> set[str]:
        """The group's members, or only those of ``among`` (no need to read a large group whole)."""
        if among is None:
            return set(self.conn.scalars(_MEMBERS, {"group": group_id}))
        return {user_id for (user_id,) in _MEMBERS_AMONG.rows(self.conn, {"group": group_id}, among)}

    def _set_members(self, group_ext: str, member_exts: list[str]) -> None:
        group = self._group(group_ext)
        wanted = {self._user(ext)["id"]: ext for ext in member_exts}
        current = self._current_members(group["id"])
        self._insert_memberships(group["id"], [uid for uid in wanted if uid not in current])
        self._delete_memberships(group["id"], sorted(current - set(wanted)))

    def _add_members(self, pairs: list[tuple[str, str]]) -> None:
        by_group: dict[str, list[str]] = {}
        for group_ext, user_ext in pairs:
            by_group.setdefault(group_ext, []).append(self._user(user_ext)["id"])
        for group_ext, user_ids in by_group.items():
            group_id = self._group(group_ext)["id"]
            wanted = list(dict.fromkeys(user_ids))
            current = self._current_members(group_id, wanted)
            self._insert_memberships(group_id, [u for u in wanted if u not in current])

    def _remove_members(self, pairs: list[tuple[str, str]]) -> None:
        by_group: dict[str, set[str]] = {}
        for group_ext, user_ext in pairs:
            by_group.setdefault(group_ext, set()).add(self._user(user_ext)["id"])
        for group_ext, user_ids in by_group.items():
            group_id = self._group(group_ext)["id"]
            wanted = sorted(user_ids)
            self._delete_memberships(group_id, sorted(self._current_members(group_id, wanted)))

    def _insert_memberships(self, group_id: str, user_ids: list[str]) -> None:
        if not user_ids:
            return
        if self.conn.dialect.name == "postgresql":
            _INSERT_MEMBERSHIPS_PG.run(self.conn, {"group": group_id, "users": user_ids, "at": self.now})
        else:
            rows = [{"group_id": group_id, "user_id": uid, "created_at": self.now} for uid in user_ids]
            self.conn.execute(_INSERT_MEMBERSHIP, rows)
        self.result.members_added += len(user_ids)
        for uid in user_ids:
            self._event("group.member_added", group_id, {"group_id": group_id, "user_id": uid})

    def _delete_memberships(self, group_id: str, user_ids: list[str]) -> None:
        _DELETE_MEMBERSHIPS.run(self.conn, {"group": group_id}, user_ids)
        self.result.members_removed += len(user_ids)
        for uid in user_ids:
            self._event("group.member_removed", group_id, {"group_id": group_id, "user_id": uid})


def _without_flags(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k[0] != "_"}


def _executemany_grouped(conn: Connection, stmt: Direct, updates: dict[str, dict[str, Any]]) -> None:
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in updates.items():
        by_columns.setdefault(tuple(sorted(values)), []).append({"_id": row_id, **values})
    for rows in by_columns.values():
        _write(conn, stmt, rows)


def _write(conn: Connection, stmt: Direct, rows: list[dict[str, Any]]) -> None:
    """One row (a SCIM write) on the driver's cursor; many (a sync) through Core, whose executemany
    becomes multi-row statements on PostgreSQL."""
    if len(rows) == 1:
        stmt.run(conn, rows[0])
    else:
        conn.execute(stmt.statement, rows)

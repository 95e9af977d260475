"""The one writer of the directory. Every change appends its event in the same transaction.

Callers (Graph sync, SCIM, invitations) describe what the source says in a ``ChangeSet``;
``apply_changes`` diffs it against what is stored, writes only real changes, and returns counts.
Any error raises and the caller's transaction rolls back: nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from koppel.db.base import new_id
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


def apply_changes(*, session: Session, changes: ChangeSet, now: datetime) -> ChangeResult:
    writer = _Writer(session, changes, now)
    writer.run()
    writer.result.events = append(session, writer.events, now=now)
    return writer.result


def user_snapshot(user: DirectoryUser) -> dict[str, Any]:
    """The user as events carry it (the host-app contract)."""
    return {
        "id": user.id,
        "external_id": user.external_id,
        "connection_id": user.connection_id,
        "user_name": user.user_name,
        "email": user.email,
        "display_name": user.display_name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "user_type": user.user_type,
        "status": user.status,
    }


def group_snapshot(group: DirectoryGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "external_id": group.external_id,
        "connection_id": group.connection_id,
        "display_name": group.display_name,
        "group_type": group.group_type,
    }


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Writer:
    def __init__(self, session: Session, changes: ChangeSet, now: datetime) -> None:
        self.session, self.changes, self.now = session, changes, now
        self.result = ChangeResult()
        self.events: list[NewEvent] = []
        self.users: dict[str, DirectoryUser] = {}
        self.groups: dict[str, DirectoryGroup] = {}

    def run(self) -> None:
        c = self.changes
        self._load_users({u.external_id for u in c.upsert_users} | self._referenced_users())
        self._load_groups({g.external_id for g in c.upsert_groups} | self._referenced_groups())
        for group in c.upsert_groups:
            self._upsert_group(group)
        for user in c.upsert_users:
            self._upsert_user(user)
        self.session.flush()
        for group_ext, members in c.set_members.items():
            self._set_members(group_ext, members)
        self._add_members(c.add_members)
        self._remove_members(c.remove_members)
        for ext, reason in c.deactivate_users:
            self._deactivate(self._user(ext), reason)
        for ext in c.delete_users:
            self._delete_user(self._user(ext))
        for ext in c.delete_groups:
            self._delete_group(self._group(ext))
        self.result.user_ids.update({k: u.id for k, u in self.users.items()})
        self.result.group_ids.update({k: g.id for k, g in self.groups.items()})

    # -- loading -------------------------------------------------------------------------
    def _referenced_users(self) -> set[str]:
        c = self.changes
        refs = {u for _, u in c.add_members} | {u for _, u in c.remove_members}
        refs |= {u for members in c.set_members.values() for u in members}
        return refs | {u for u, _ in c.deactivate_users} | set(c.delete_users)

    def _referenced_groups(self) -> set[str]:
        c = self.changes
        return (
            {g for g, _ in c.add_members} | {g for g, _ in c.remove_members} | set(c.set_members) | set(c.delete_groups)
        )

    def _load_users(self, external_ids: Iterable[str]) -> None:
        ids = sorted(external_ids)
        for part in chunks(ids):
            rows = self.session.scalars(
                select(DirectoryUser).where(
                    DirectoryUser.connection_id == self.changes.connection_id,
                    DirectoryUser.external_id.in_(part),
                )
            )
            self.users.update({u.external_id: u for u in rows})

    def _load_groups(self, external_ids: Iterable[str]) -> None:
        ids = sorted(external_ids)
        for part in chunks(ids):
            rows = self.session.scalars(
                select(DirectoryGroup).where(
                    DirectoryGroup.connection_id == self.changes.connection_id,
                    DirectoryGroup.external_id.in_(part),
                )
            )
            self.groups.update({g.external_id: g for g in rows})

    def _user(self, external_id: str) -> DirectoryUser:
        user = self.users.get(external_id)
        if user is None:
            raise NotFound(f"no user with external id {external_id!r} in this connection")
        return user

    def _group(self, external_id: str) -> DirectoryGroup:
        group = self.groups.get(external_id)
        if group is None:
            raise NotFound(f"no group with external id {external_id!r} in this connection")
        return group

    def _event(self, type_: str, subject_id: str, data: dict[str, Any]) -> None:
        self.events.append(NewEvent(type=type_, org_id=self.changes.org_id, subject_id=subject_id, data=data))

    # -- users ---------------------------------------------------------------------------
    def _upsert_user(self, record: UserRecord) -> None:
        user = self.users.get(record.external_id)
        status = "active" if record.account_enabled else "deactivated"
        if user is None:
            user = DirectoryUser(
                id=new_id(),
                org_id=self.changes.org_id,
                connection_id=self.changes.connection_id,
                external_id=record.external_id,
                status=status,
                created_at=self.now,
                updated_at=self.now,
                deactivated_at=None if record.account_enabled else self.now,
                **{f: getattr(record, f) for f in USER_FIELDS},
            )
            self.session.add(user)
            self.users[record.external_id] = user
            self.result.users_created += 1
            self._event("user.created", user.id, {"user": user_snapshot(user)})
            return
        changed = [f for f in USER_FIELDS if getattr(user, f) != getattr(record, f)]
        for f in changed:
            setattr(user, f, getattr(record, f))
        if changed:
            user.updated_at = self.now
            self.result.users_updated += 1
            self._event("user.updated", user.id, {"user": user_snapshot(user), "changed": changed})
        if status != user.status:
            if status == "active":
                self._reactivate(user)
            else:
                self._deactivate(user, "disabled at the source")

    def _reactivate(self, user: DirectoryUser) -> None:
        user.status, user.deactivated_at, user.updated_at = "active", None, self.now
        self.result.users_reactivated += 1
        self._event("user.reactivated", user.id, {"user": user_snapshot(user)})

    def _deactivate(self, user: DirectoryUser, reason: str) -> None:
        if user.status == "deactivated":
            return
        user.status, user.deactivated_at, user.updated_at = "deactivated", self.now, self.now
        self.result.users_deactivated += 1
        self._event("user.deactivated", user.id, {"user": user_snapshot(user), "reason": reason})

    def _delete_user(self, user: DirectoryUser) -> None:
        self.session.delete(user)
        del self.users[user.external_id]
        self.result.users_deleted += 1
        self._event("user.deleted", user.id, {"user": user_snapshot(user)})

    # -- groups --------------------------------------------------------------------------
    def _upsert_group(self, record: GroupRecord) -> None:
        group = self.groups.get(record.external_id)
        if group is None:
            group = DirectoryGroup(
                id=new_id(),
                org_id=self.changes.org_id,
                connection_id=self.changes.connection_id,
                external_id=record.external_id,
                created_at=self.now,
                updated_at=self.now,
                **{f: getattr(record, f) for f in GROUP_FIELDS},
            )
            self.session.add(group)
            self.groups[record.external_id] = group
            self.result.groups_created += 1
            self._event("group.created", group.id, {"group": group_snapshot(group)})
            return
        changed = [f for f in GROUP_FIELDS if getattr(group, f) != getattr(record, f)]
        for f in changed:
            setattr(group, f, getattr(record, f))
        if changed:
            group.updated_at = self.now
            self.result.groups_updated += 1
            self._event("group.updated", group.id, {"group": group_snapshot(group), "changed": changed})

    def _delete_group(self, group: DirectoryGroup) -> None:
        self.session.delete(group)
        del self.groups[group.external_id]
        self.result.groups_deleted += 1
        self._event("group.deleted", group.id, {"group": group_snapshot(group)})

    # -- memberships ---------------------------------------------------------------------
    def _current_members(self, group: DirectoryGroup) -> set[str]:
        return set(self.session.scalars(select(Membership.user_id).where(Membership.group_id == group.id)))

    def _set_members(self, group_ext: str, member_exts: list[str]) -> None:
        group = self._group(group_ext)
        wanted = {self._user(ext).id: ext for ext in member_exts}
        current = self._current_members(group)
        self._insert_memberships(group, [uid for uid in wanted if uid not in current])
        self._delete_memberships(group, sorted(current - set(wanted)))

    def _add_members(self, pairs: list[tuple[str, str]]) -> None:
        by_group: dict[str, list[str]] = {}
        for group_ext, user_ext in pairs:
            by_group.setdefault(group_ext, []).append(self._user(user_ext).id)
        for group_ext, user_ids in by_group.items():
            group = self._group(group_ext)
            current = self._current_members(group)
            self._insert_memberships(group, [u for u in dict.fromkeys(user_ids) if u not in current])

    def _remove_members(self, pairs: list[tuple[str, str]]) -> None:
        by_group: dict[str, set[str]] = {}
        for group_ext, user_ext in pairs:
            by_group.setdefault(group_ext, set()).add(self._user(user_ext).id)
        for group_ext, user_ids in by_group.items():
            group = self._group(group_ext)
            self._delete_memberships(group, sorted(user_ids & self._current_members(group)))

    def _insert_memberships(self, group: DirectoryGroup, user_ids: list[str]) -> None:
        if not user_ids:
            return
        rows = [{"group_id": group.id, "user_id": uid, "created_at": self.now} for uid in user_ids]
        self.session.execute(insert(Membership), rows)
        self.result.members_added += len(rows)
        for uid in user_ids:
            self._event("group.member_added", group.id, {"group_id": group.id, "user_id": uid})

    def _delete_memberships(self, group: DirectoryGroup, user_ids: list[str]) -> None:
        for part in chunks(user_ids):
            self.session.execute(
                delete(Membership).where(Membership.group_id == group.id, Membership.user_id.in_(part))
            )
        self.result.members_removed += len(user_ids)
        for uid in user_ids:
            self._event("group.member_removed", group.id, {"group_id": group.id, "user_id": uid})

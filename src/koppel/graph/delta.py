"""An incremental run (issue 4 §4 later runs): replay the groups and users delta rounds.

The cost follows the changes: the groups round names the members added and removed in the
scoped groups, the users round the users whose attributes changed; only the users a round
touches are read from koppel's directory, and only members added without a users-round entry
are fetched from Graph. A transitive connection whose tracked groups changed membership is
answered with a full run instead (``NeedsFullRun``): nested membership cannot be followed
per change.
"""

from __future__ import annotations

from typing import Any

from koppel.directory.changes import GroupRecord, UserRecord
from koppel.graph import reads
from koppel.graph.plan import Plan, RunCtx, group_record
from koppel.graph.protocol import paging
from koppel.graph.protocol.paging import GroupDelta, merge_group_delta, removed_reason
from koppel.graph.protocol.users import user_fields


class NeedsFullRun(Exception):
    """This delta round cannot be applied change by change."""


class DeltaRun:
    def __init__(self, ctx: RunCtx, groups_link: str, users_link: str, tracked: list[str]) -> None:
        self.ctx, self.tracked = ctx, tracked
        self.groups_link, self.users_link = groups_link, users_link
        self.groups: dict[str, GroupDelta] = {}
        self.users: dict[str, dict[str, Any]] = {}

    def plan(self) -> Plan:
        new_groups_link = self._round(self.groups_link, lambda item: merge_group_delta(self.groups, item))
        new_users_link = self._round(self.users_link, lambda item: self.users.__setitem__(str(item["id"]), item))
        scoped = set(self.ctx.config.group_ids)
        if self.ctx.config.transitive and any(self._membership_changed(d) for d in self.groups.values()):
            raise NeedsFullRun
        deleted = sorted(g for g, d in self.groups.items() if d.removed and g in scoped)
        return self._build(scoped, deleted, new_groups_link, new_users_link)

    def _round(self, link: str, take: Any) -> str | None:
        delta_link = None
        for page in self.ctx.graph.pages(link):
            for item in page.items:
                take(item)
            delta_link = page.delta_link or delta_link
        return delta_link

    @staticmethod
    def _membership_changed(delta: GroupDelta) -> bool:
        return bool(
            delta.removed or delta.added_users or delta.removed_users or delta.added_groups or delta.removed_groups
        )

    def _build(self, scoped: set[str], deleted: list[str], groups_link: str | None, users_link: str | None) -> Plan:
        ctx = self.ctx
        live = scoped - set(deleted)
        added = {g: d.added_users for g, d in self.groups.items() if g in live}
        removed = {g: d.removed_users for g, d in self.groups.items() if g in scoped}
        with ctx.transaction() as session:
            deleted_members = {g: set(reads.group_member_ids(session, ctx.connection_id, g)) for g in deleted}
            touched = set(self.users).union(*added.values(), *removed.values(), *deleted_members.values())
            known = reads.known_users(session, ctx.connection_id, touched)
        after: dict[str, set[str]] = {}
        for user_id in touched:
            groups = set(known[user_id].groups) if user_id in known else set()
            groups -= {g for g, ids in removed.items() if user_id in ids} | set(deleted)
            groups |= {g for g, ids in added.items() if user_id in ids}
            after[user_id] = groups & live
        gone = {u for u, item in self.users.items() if removed_reason(item) is not None}
        for user_id in gone:
            after[user_id] = set()  # a deleted user leaves its groups too
        in_scope = {u for u, groups in after.items() if groups and u not in gone}
        records = self._records(in_scope, known)
        return self._plan(after, known, records, gone, deleted, groups_link, users_link)

    def _records(self, in_scope: set[str], known: dict[str, reads.KnownUser]) -> dict[str, UserRecord]:
        """The current attributes of every in-scope user this round touched, fetching only those it lacks."""
        items = {u: self.users[u] for u in in_scope if u in self.users}
        missing = sorted(u for u in in_scope if u not in items and (u not in known or known[u].status != "active"))
        graph_url = self.ctx.graph.settings.graph_url
        for start in range(0, len(missing), paging.FILTER_IDS):
            url = paging.users_by_id_url(graph_url, missing[start : start + paging.FILTER_IDS])
            for page in self.ctx.graph.pages(url):
                items.update({str(i["id"]): i for i in page.items})
        return {u: UserRecord(**user_fields(item)) for u, item in items.items()}

    def _plan(
        self,
        after: dict[str, set[str]],
        known: dict[str, reads.KnownUser],
        records: dict[str, UserRecord],
        gone: set[str],
        deleted: list[str],
        groups_link: str | None,
        users_link: str | None,
    ) -> Plan:
        ctx = self.ctx
        add = [
            (g, u)
            for u, groups in after.items()
            if u in records or u in known
            for g in sorted(groups)
            if g not in known.get(u, reads.KnownUser("")).groups
        ]
        remove = [(g, u) for u, k in known.items() for g in sorted(k.groups - after.get(u, set()))]
        deactivate: list[tuple[str, str]] = []
        for user_id, k in known.items():
            if k.status != "active":
                continue
            if user_id in gone:
                deactivate.append((user_id, "deleted in Entra"))
            elif not after.get(user_id):
                deactivate.append((user_id, "left every scoped group"))
        disabling = [
            (u, "disabled in Entra")
            for u, r in records.items()
            if not r.account_enabled and known.get(u, reads.KnownUser("")).status == "active"
        ]
        changes = ctx.changes(
            upsert_users=list(records.values()),
            upsert_groups=self._group_updates(deleted),
            add_members=add,
            remove_members=remove,
            deactivate_users=deactivate,
            delete_groups=deleted,
        )
        tracked = [g for g in self.tracked if g not in deleted]
        return Plan(
            changes, groups_link, users_link, tracked, "delta", drop_groups=deleted, deactivating=deactivate + disabling
        )

    def _group_updates(self, deleted: list[str]) -> list[GroupRecord]:
        scoped = set(self.ctx.config.group_ids) - set(deleted)
        return [
            group_record({"id": g, **d.props})
            for g, d in self.groups.items()
            if g in scoped and d.props.get("displayName")
        ]

"""A full run (issue 4 §4 first run): every member of each scoped group, paged with ``$select``.

Pages are streamed and applied in chunks (bounded memory, no query per user); what the run saw
is kept as sets of ids so that, once every page has arrived, the users it no longer saw can be
planned for deactivation. Nothing is removed before the last page: partial data is never read
as removal (issue 4 §5).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from koppel.directory.changes import UserRecord
from koppel.directory.service import apply_changes
from koppel.graph import reads
from koppel.graph.client import GraphClient
from koppel.graph.errors import ScopeInvalid
from koppel.graph.models import GraphSyncRun
from koppel.graph.plan import Plan, RunCtx, group_record
from koppel.graph.protocol import errors as wire
from koppel.graph.protocol import paging
from koppel.graph.protocol.users import user_fields

CHUNK = 5000  # users per write transaction: big enough to be cheap, small enough for memory


def check_group(graph: GraphClient, group_id: str) -> dict[str, Any]:
    """The group as Graph has it, if it exists and is a security group; else ``ScopeInvalid`` naming it."""
    try:
        item: dict[str, Any] = graph.get(paging.group_url(graph.settings.graph_url, group_id))
    except wire.ResourceNotFound:
        raise ScopeInvalid(
            f"group {group_id} does not exist in tenant {graph.tenant_id}; check the group's Object ID "
            "(a new group can take up to an hour to appear)",
            field="group_id",
        ) from None
    if not item.get("securityEnabled") or "Unified" in (item.get("groupTypes") or []):
        raise ScopeInvalid(
            f"group {group_id} ({item.get('displayName')}) is not a security group; create a group of type "
            "'Security' in Entra and give its Object ID",
            field="group_id",
        )
    return item


class FullRun:
    def __init__(self, ctx: RunCtx) -> None:
        self.ctx = ctx
        self.seen: dict[str, set[str]] = {g: set() for g in ctx.config.group_ids}
        self.nested: set[str] = set()
        self.buffer: list[tuple[str, dict[str, Any]]] = []
        self.disabling: dict[str, UserRecord] = {}

    def plan(self) -> Plan:
        ctx, graph_url = self.ctx, self.ctx.graph.settings.graph_url
        # Delta links first: changes made while we list are then replayed by the next run, not lost.
        users_link = self._delta_link(paging.users_delta_url(graph_url))
        groups = [check_group(ctx.graph, g) for g in ctx.config.group_ids]
        if not ctx.config.transitive:
            groups_link = self._groups_delta_link(ctx.config.group_ids)
        with ctx.transaction() as session:
            ctx.add_result(
                session,
                apply_changes(
                    session=session, changes=ctx.changes(upsert_groups=[group_record(g) for g in groups]), now=ctx.now()
                ),
            )
        for group in groups:
            self._list_members(str(group["id"]))
        self._flush()
        tracked = sorted({*ctx.config.group_ids, *self.nested})
        if ctx.config.transitive:
            groups_link = self._groups_delta_link(tracked)
        return self._final(groups_link, users_link, tracked)

    def _groups_delta_link(self, group_ids: list[str]) -> str | None:
        """None when there are more groups than one groups/delta filter takes: every run is then a full run."""
        if len(group_ids) > paging.DELTA_FILTER_MAX:
            return None
        return self._delta_link(paging.groups_delta_url(self.ctx.graph.settings.graph_url, group_ids))

    def _delta_link(self, url: str) -> str | None:
        return next(self.ctx.graph.pages(url)).delta_link

    def _list_members(self, group_id: str) -> None:
        ctx = self.ctx
        url = paging.members_url(ctx.graph.settings.graph_url, group_id, transitive=ctx.config.transitive)
        for page in ctx.graph.pages(url, paging.COUNT_HEADERS):
            if page.count is not None:
                self._expect(page.count)
            for item in page.items:
                if paging.is_user(item):
                    self.buffer.append((group_id, item))
                elif item.get("@odata.type") == paging.GROUP_TYPE:
                    self.nested.add(str(item["id"]))  # direct mode: nested members are not expanded (seed 000)
            if len(self.buffer) >= CHUNK:
                self._flush()

    def _expect(self, count: int) -> None:
        with self.ctx.transaction() as session:
            run = session.get(GraphSyncRun, self.ctx.run_id)
            if run is not None:
                run.expected = (run.expected or 0) + count

    def _flush(self) -> None:
        if not self.buffer:
            return
        ctx, batch, self.buffer = self.ctx, self.buffer, []
        records = {str(item["id"]): UserRecord(**user_fields(item)) for _, item in batch}
        with ctx.transaction() as session:
            active = reads.active_among(session, ctx.connection_id, records)
            # Disabling an active user is a deactivation: it waits for the end of the run and the guard.
            held = {ext: r for ext, r in records.items() if not r.account_enabled and ext in active}
            self.disabling.update(held)
            pairs = list(dict.fromkeys((g, str(item["id"])) for g, item in batch))
            for g, ext in pairs:
                self.seen[g].add(ext)
            upserts = [r for ext, r in records.items() if ext not in held]
            changes = ctx.changes(upsert_users=upserts, add_members=pairs)
            ctx.add_result(session, apply_changes(session=session, changes=changes, now=ctx.now()), len(batch))

    def _final(self, groups_link: str | None, users_link: str | None, tracked: list[str]) -> Plan:
        ctx = self.ctx
        seen_all = set().union(*self.seen.values()) if self.seen else set()
        removals: list[tuple[str, str]] = []
        deactivate: list[tuple[str, str]] = []
        with ctx.transaction() as session:
            for group_id, seen in self.seen.items():
                removals += [
                    (group_id, u) for u in reads.group_member_ids(session, ctx.connection_id, group_id) if u not in seen
                ]
            unscoped = sorted(reads.group_ids(session, ctx.connection_id) - set(self.seen))
            for group_id in unscoped:  # groups no longer in the connection's scope
                removals += [(group_id, u) for u in reads.group_member_ids(session, ctx.connection_id, group_id)]
            deactivate = [
                (u, "left every scoped group")
                for u in reads.active_user_ids(session, ctx.connection_id)
                if u not in seen_all
            ]
            deletes = self._hard_deletes(session, seen_all)
        deactivating = deactivate + [(u, "disabled in Entra") for u in self.disabling]
        changes = ctx.changes(
            upsert_users=list(self.disabling.values()),
            remove_members=removals,
            deactivate_users=deactivate,
            delete_users=deletes,
            delete_groups=unscoped,
        )
        return Plan(changes, groups_link, users_link, tracked, "full", deactivating=deactivating)

    def _hard_deletes(self, session: Any, seen_all: set[str]) -> list[str]:
        days = self.ctx.config.hard_delete_after_days
        if not days:
            return []
        before = self.ctx.now() - timedelta(days=days)
        return [u for u in reads.expired_deactivated(session, self.ctx.connection_id, before) if u not in seen_all]

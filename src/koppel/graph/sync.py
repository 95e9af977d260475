"""The sync engine: one run of one Entra connection, start to finish (issue 4 §4, §5).

    start   mark runs a crash left ``running`` as abandoned; record the new run
    plan    a full run (``full.FullRun``) or an incremental one (``delta.DeltaRun``); an expired
            delta token (410 / syncStateNotFound) falls back to a full run
    finish  apply the plan and keep the delta links in one transaction, or park the plan in
            ``awaiting_approval`` when it would deactivate more than the guard allows

Any error fails the run before ``finish``: no deactivation, no removal, delta links unchanged,
so the next run (after a crash too) starts from the last good state and converges. Runs of one
connection never overlap: callers run this inside the ``sync:{connection_id}`` job lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from koppel.directory.changes import ChangeResult
from koppel.directory.service import apply_changes
from koppel.errors import KoppelError
from koppel.graph import reads
from koppel.graph.client import TIMEOUT, GraphClient
from koppel.graph.config import EntraConfig
from koppel.graph.delta import DeltaRun, NeedsFullRun
from koppel.graph.errors import ConsentMissing, GraphDenied, SyncNotAllowed
from koppel.graph.full import FullRun
from koppel.graph.models import GraphSyncRun, GraphSyncState
from koppel.graph.plan import Plan, RunCtx, write_counts
from koppel.graph.protocol import errors as wire
from koppel.organizations.connections import get_connection, set_status, update_connection
from koppel.organizations.models import Connection
from koppel.security.crypto import SecretBox
from koppel.settings import Settings

log = logging.getLogger(__name__)
RUNNABLE = ("healthy", "failing")
ABANDONED = "the worker stopped during this run (crash or kill); the next run picked up from the last good state"


def run_sync(
    *,
    session_factory: sessionmaker[Session],
    settings: Settings,
    connection_id: str,
    now: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
    full: bool = False,
) -> str:
    """Run one sync of the connection; returns the run id (the record says how it went)."""
    with session_factory() as session, session.begin():
        connection = get_connection(session=session, connection_id=connection_id)
        check_runnable(connection)
        state = session.get(GraphSyncState, connection_id) or _new_state(session, connection_id)
        config = EntraConfig.of(connection.settings)
        delta = not full and bool(state.groups_delta_link and state.users_delta_link)
        run = _start(session, connection, "delta" if delta else "full", now())
        links = (state.groups_delta_link, state.users_delta_link, list(state.tracked_groups))
        org_id = connection.org_id
    with httpx.Client(timeout=TIMEOUT) as http:
        graph = GraphClient(settings=settings, tenant_id=config.tenant_id, http=http, sleep=sleep)
        ctx = RunCtx(org_id, connection_id, config, graph, session_factory, now, run.id)
        try:
            plan = _plan(ctx, links if delta else None)
        except Exception as exc:
            _fail(ctx, exc)
            return run.id
    finish(ctx, plan)
    return run.id


def check_runnable(connection: Connection) -> None:
    if connection.kind != "entra":
        raise SyncNotAllowed(f"connection {connection.id} is a {connection.kind} connection; only entra ones sync")
    if connection.status == "awaiting_approval":
        raise SyncNotAllowed(
            "a run of this connection awaits approval; approve or reject it first (koppel sync approve|reject)"
        )
    if connection.status not in RUNNABLE:
        raise SyncNotAllowed(
            f"connection {connection.id} is {connection.status}: the tenant admin must grant consent first "
            "(koppel connection check moves it on once they have)"
        )


def _new_state(session: Session, connection_id: str) -> GraphSyncState:
    state = GraphSyncState(connection_id=connection_id, tracked_groups=[])
    session.add(state)
    return state


def _start(session: Session, connection: Connection, mode: str, now: datetime) -> GraphSyncRun:
    session.execute(
        update(GraphSyncRun)
        .where(GraphSyncRun.connection_id == connection.id, GraphSyncRun.outcome == "running")
        .values(outcome="abandoned", finished_at=now, errors=[ABANDONED])
    )
    run = GraphSyncRun(
        org_id=connection.org_id,
        connection_id=connection.id,
        mode=mode,
        outcome="running",
        started_at=now,
        created=0,
        updated=0,
        deactivated=0,
        graph_requests=0,
        processed=0,
        counts={},
        errors=[],
    )
    session.add(run)
    session.flush()
    return run


def _plan(ctx: RunCtx, links: tuple[str | None, str | None, list[str]] | None) -> Plan:
    if links is not None and links[0] and links[1]:
        try:
            return DeltaRun(ctx, links[0], links[1], links[2]).plan()
        except (wire.DeltaExpired, NeedsFullRun) as exc:
            note = "delta token expired: full resync" if isinstance(exc, wire.DeltaExpired) else None
            _switch_to_full(ctx, note or "nested group membership changed: full resync (transitive)")
    return FullRun(ctx).plan()


def _switch_to_full(ctx: RunCtx, note: str) -> None:
    with ctx.transaction() as session:
        run = session.get(GraphSyncRun, ctx.run_id)
        if run is not None:
            run.mode, run.counts = "full", {**run.counts, "resync": 1}
            run.errors = [*run.errors, note]


def finish(ctx: RunCtx, plan: Plan) -> None:
    """Apply the plan, or park it when it trips the accidental-deletion guard (issue 4 §5)."""
    with ctx.transaction() as session:
        run = session.get(GraphSyncRun, ctx.run_id)
        connection = get_connection(session=session, connection_id=ctx.connection_id)
        assert run is not None
        threshold = ctx.config.guard_threshold(reads.count_active(session, ctx.connection_id))
        _add_hard_deletes(session, ctx, plan)
        run.graph_requests, run.finished_at = ctx.graph.requests, ctx.now()
        if len(plan.deactivating) > threshold:
            _park(session, run, connection, plan, threshold, ctx.now())
            return
        result = apply_plan(session, settings=ctx.graph.settings, connection=connection, plan=plan, now=ctx.now())
        ctx.add_result(session, result)
        run.outcome = "succeeded"


def _add_hard_deletes(session: Session, ctx: RunCtx, plan: Plan) -> None:
    """Users deactivated longer than ``hard_delete_after_days`` go for good (optional, issue 4 §4)."""
    days = ctx.config.hard_delete_after_days
    if not days or plan.changes.delete_users:
        return
    keep = {u.external_id for u in plan.changes.upsert_users} | {u for _, u in plan.changes.add_members}
    expired = reads.expired_deactivated(session, ctx.connection_id, ctx.now() - timedelta(days=days))
    plan.changes.delete_users = [u for u in expired if u not in keep]


def _park(
    session: Session, run: GraphSyncRun, connection: Connection, plan: Plan, threshold: int, now: datetime
) -> None:
    names = reads.names_of(session, connection.id, [u for u, _ in plan.deactivating])
    who = [
        {
            "external_id": u,
            "user_name": names.get(u, (u, None))[0],
            "display_name": names.get(u, (u, None))[1],
            "reason": r,
        }
        for u, r in plan.deactivating
    ]
    run.outcome = "awaiting_approval"
    run.pending = {"plan": plan.to_json(), "would_deactivate": who, "threshold": threshold}
    message = (
        f"this run would deactivate {len(who)} users, more than the guard allows ({threshold}); review the list "
        f"and approve or reject it (koppel sync approve|reject --connection {connection.id})"
    )
    run.errors = [*run.errors, message]
    set_status(session=session, connection=connection, status="awaiting_approval", last_error=message, now=now)


def apply_plan(
    session: Session, *, settings: Settings, connection: Connection, plan: Plan, now: datetime
) -> ChangeResult:
    """The plan's changes, the delta links and the connection's status, in the caller's transaction."""
    result = apply_changes(session=session, changes=plan.changes, now=now)
    state = session.get(GraphSyncState, connection.id) or _new_state(session, connection.id)
    state.groups_delta_link, state.users_delta_link = plan.groups_delta_link, plan.users_delta_link
    state.tracked_groups, state.last_success_at = plan.tracked_groups, now
    if plan.mode == "full":
        state.last_full_sync_at = now
    status, message = "healthy", None
    if plan.drop_groups:
        left = [g for g in EntraConfig.of(connection.settings).group_ids if g not in plan.drop_groups]
        box = SecretBox(settings.secret)
        update_connection(session=session, secret_box=box, connection=connection, settings={"group_ids": left}, now=now)
        message = f"scoped group(s) {', '.join(plan.drop_groups)} were deleted in Entra; their members were removed"
        if not left:
            status, message = "failing", message + "; no scoped group is left: add a security group to this connection"
    set_status(session=session, connection=connection, status=status, last_error=message, now=now)
    return result


def _fail(ctx: RunCtx, exc: Exception) -> None:
    message = _plain(exc)
    if not isinstance(exc, KoppelError):
        log.exception("graph sync of %s failed", ctx.connection_id)
    with ctx.transaction() as session:
        run = session.get(GraphSyncRun, ctx.run_id)
        connection = get_connection(session=session, connection_id=ctx.connection_id)
        if run is not None:
            write_counts(run, ctx.totals)
            run.outcome, run.finished_at, run.graph_requests = "failed", ctx.now(), ctx.graph.requests
            run.errors = [*run.errors, message]
        status = "consent_revoked" if isinstance(exc, ConsentMissing | GraphDenied) else "failing"
        set_status(session=session, connection=connection, status=status, last_error=message, now=ctx.now())


def _plain(exc: Exception) -> str:
    if isinstance(exc, KoppelError):
        return exc.detail
    if isinstance(exc, wire.GraphError):
        return f"Microsoft Graph answered {exc.status} {exc.code}: {exc.message}; the next run retries"
    return f"the run stopped on an unexpected error ({type(exc).__name__}: {exc}); the next run retries"

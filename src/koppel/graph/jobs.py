"""Background work of Graph sync: one run per connection at a time, a scheduler, consent re-checks.

The ``sync:{connection_id}`` lock is what keeps runs of one connection from overlapping, across
any number of workers (issue 4 §5).
"""

from __future__ import annotations

import logging

from koppel.graph import service
from koppel.graph.errors import SyncNotAllowed
from koppel.graph.sync import run_sync
from koppel.jobs import JobContext, job
from koppel.organizations.connections import get_connection

log = logging.getLogger(__name__)


@job("graph.sync", lock="sync:{connection_id}", deduplicate=True)
def sync_connection(ctx: JobContext, *, connection_id: str, full: bool = False) -> None:
    try:
        run_sync(
            session_factory=ctx.session_factory,
            settings=ctx.settings,
            connection_id=connection_id,
            now=ctx.now,
            full=full,
        )
    except SyncNotAllowed as exc:
        log.info("graph sync of %s skipped: %s", connection_id, exc.detail)


@job("graph.check", lock="graph-check:{connection_id}", deduplicate=True)
def check_connection(ctx: JobContext, *, connection_id: str) -> None:
    with ctx.transaction() as session:
        connection = get_connection(session=session, connection_id=connection_id)
        result = service.check_connection(session=session, settings=ctx.settings, connection=connection, now=ctx.now())
    if result.sync_due:
        ctx.runner.enqueue("graph.sync", connection_id=connection_id)


@job("graph.schedule", every=60)
def schedule(ctx: JobContext) -> None:
    """Every minute: start the syncs whose interval has passed and re-check connections awaiting consent."""
    with ctx.transaction() as session:
        syncs, checks = service.due_work(session=session, now=ctx.now())
    for connection_id in syncs:
        ctx.runner.enqueue("graph.sync", connection_id=connection_id)
    for connection_id in checks:
        ctx.runner.enqueue("graph.check", connection_id=connection_id)

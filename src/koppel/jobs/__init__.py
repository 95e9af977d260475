"""Background work: one small interface, two backends (DESIGN.md "Stack", issue 2 part 5).

Declare a job in your capability's ``jobs.py`` (every ``koppel.<capability>.jobs`` module is
imported by the runners, so nothing else needs wiring)::

    from koppel.jobs import JobContext, job

    @job("graph.sync", lock="sync:{connection_id}")      # one sync per connection at a time
    def sync_connection(ctx: JobContext, *, connection_id: str) -> None:
        with ctx.transaction() as session:
            ...                                          # ctx.now(), ctx.settings, ctx.secret_box

    @job("graph.schedule", every=60)                     # periodic; runs with no arguments
    def schedule_syncs(ctx: JobContext) -> None:
        for connection_id in due_connections(...):
            ctx.runner.enqueue("graph.sync", connection_id=connection_id)

Enqueue from anywhere that has a runner (``ctx.runner`` in a job, ``app.state.jobs`` in the
server when it runs jobs, ``koppel.jobs.runner_for(settings)`` elsewhere)::

    runner.enqueue("graph.sync", connection_id=connection.id)

The promises, on both backends:

- ``lock``: a template formatted with the job's keyword arguments. Two jobs with the same
  lock key never run at the same time, across all workers and processes; they run one
  after the other in the order they were enqueued.
- ``deduplicate=True``: at most one *waiting* job per lock key (or per name without a lock);
  enqueueing another one while one waits is a no-op. Periodic jobs always deduplicate.
- ``every``: seconds between runs: a divisor of 60, or a multiple of 60 dividing 3600
  (procrastinate schedules by cron).
- Arguments are JSON values (they travel through PostgreSQL). Jobs are not retried on
  error: they are written to be idempotent and the next run (periodic) picks up the work.

Backends (``KOPPEL_JOB_BACKEND``): ``inprocess`` runs jobs in asyncio tasks in ``koppel
serve`` (or ``koppel worker``) with in-process locks plus a database lease, so two processes
on one SQLite file never overlap (``koppel.jobs.inprocess``); ``procrastinate`` queues them in
PostgreSQL for any number of ``koppel worker`` processes (``koppel.jobs.procrastinate_backend``).
"""

from __future__ import annotations

from koppel.jobs.context import JobContext, JobRunner
from koppel.jobs.registry import REGISTRY, JobSpec, UnknownJob, job

__all__ = ["REGISTRY", "JobContext", "JobRunner", "JobSpec", "UnknownJob", "job", "runner_for"]


def runner_for(context: JobContext) -> JobRunner:
    """The runner for enqueueing outside a worker (CLI, scripts): the configured backend."""
    if context.settings.job_backend == "procrastinate":
        from koppel.jobs.procrastinate_backend import ProcrastinateRunner

        return ProcrastinateRunner(context)
    from koppel.jobs.inprocess import InProcessRunner

    return InProcessRunner(context)

"""``koppel worker``: runs background jobs (procrastinate on PostgreSQL, in-process on SQLite)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import typer

from koppel.clikit import readable_errors, runtime
from koppel.jobs.context import JobContext
from koppel.jobs.inprocess import InProcessRunner
from koppel.jobs.registry import discover


@readable_errors
def worker(
    concurrency: int = typer.Option(4, min=1, help="Jobs run at the same time by this worker."),
    imports: list[str] = typer.Option(
        [], "--import", help="Extra module declaring jobs (koppel's own are always loaded)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Log one JSON object per line."),
) -> None:
    """Run background jobs until Ctrl-C / SIGTERM: sync cycles, webhook delivery, mail."""
    from koppel.ops.logging import configure

    rt = runtime()
    configure("json" if as_json else rt.settings.log_format, rt.settings.log_level)
    registry = discover(imports)
    context = JobContext(rt.settings, rt.session_factory, rt.secret_box)
    if rt.settings.job_backend == "procrastinate":
        from koppel.jobs.procrastinate_backend import ProcrastinateRunner

        name = f"{socket.gethostname()}:{os.getpid()}"
        ProcrastinateRunner(context, registry=registry).run_worker(concurrency=concurrency, name=name)
    else:
        _run_inprocess(InProcessRunner(context, registry=registry, concurrency=concurrency))


def _run_inprocess(runner: InProcessRunner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop)
        await runner.run()

    asyncio.run(main())

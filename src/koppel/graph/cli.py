"""``koppel connection add-entra|check|consent-link`` and ``koppel sync run|runs|approve|reject``."""

from __future__ import annotations

import threading
import time
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import koppel.graph.jobs  # noqa: F401  (registers graph.sync, graph.check, graph.schedule)
from koppel.clikit import JsonOption, Runtime, emit, err_console, readable_errors, runtime
from koppel.errors import UpstreamError
from koppel.graph import service
from koppel.graph.models import GraphSyncRun
from koppel.graph.schemas import CheckOut, ConsentLinkOut, run_json
from koppel.graph.sync import check_runnable
from koppel.jobs import JobContext, runner_for
from koppel.organizations.cli import connection_app, connection_out
from koppel.organizations.connections import get_connection

sync_app = typer.Typer(help="Directory sync from Microsoft Entra ID: runs, records, approvals.", no_args_is_help=True)
RUN_COLUMNS = (
    "id",
    "mode",
    "outcome",
    "started_at",
    "finished_at",
    "created",
    "updated",
    "deactivated",
    "graph_requests",
)
ConnectionOption = typer.Option(..., "--connection", help="Connection id.")


@connection_app.command("add-entra")
@readable_errors
def add_entra(
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    tenant_id: str = typer.Option(..., "--tenant-id", help="Tenant ID (GUID) or domain, e.g. contoso.onmicrosoft.com."),
    group_id: list[str] = typer.Option(..., "--group-id", help="Object ID of a security group (repeatable)."),
    admin_email: str = typer.Option("", "--admin-email", help="E-mail the admin-consent link to this address."),
    transitive: bool = typer.Option(False, "--transitive", help="Also take members of nested groups."),
    locale: str = typer.Option("nl", "--locale", help="Language of the consent e-mail: nl or en."),
    name: str = typer.Option("", "--name", help="Connection name (default: from the tenant)."),
    as_json: bool = JsonOption,
) -> None:
    """Connect an Entra ID tenant's security group(s); prints the admin-consent link."""
    rt = runtime()
    with rt.transaction() as session:
        connection, link = service.add_entra(
            session=session,
            secret_box=rt.secret_box,
            settings=rt.settings,
            org=org,
            tenant=tenant_id,
            group_ids=group_id,
            admin_email=admin_email or None,
            transitive=transitive,
            locale=locale,
            name=name or None,
            now=rt.now(),
        )
        out = {"connection": connection_out(connection), **ConsentLinkOut.of(link).model_dump(mode="json")}
    emit(out, as_json=as_json)


@connection_app.command("consent-link")
@readable_errors
def consent_link(connection: str = ConnectionOption, as_json: bool = JsonOption) -> None:
    """A fresh admin-consent link (e-mailed again when the connection has an admin e-mail)."""
    rt = runtime()
    with rt.transaction() as session:
        found = get_connection(session=session, connection_id=connection)
        link = service.consent_link(session=session, settings=rt.settings, connection=found, now=rt.now())
    emit(ConsentLinkOut.of(link).model_dump(mode="json"), as_json=as_json)


@connection_app.command("check")
@readable_errors
def check(connection: str = ConnectionOption, as_json: bool = JsonOption) -> None:
    """Re-test token and group access now (e.g. after consent in the Entra portal) and move the status on."""
    rt = runtime()
    with rt.transaction() as session:
        found = get_connection(session=session, connection_id=connection)
        result = service.check_connection(session=session, settings=rt.settings, connection=found, now=rt.now())
    out = CheckOut.of(result).model_dump(mode="json")
    if result.sync_due and rt.settings.job_backend == "procrastinate":
        runner_for(_context(rt)).enqueue("graph.sync", connection_id=connection)
    elif result.sync_due:
        out["sync_started"] = False
        out["next"] = "the first sync starts on the next scheduler tick of koppel serve, or now: koppel sync run"
    emit(out, as_json=as_json)


def _context(rt: Runtime) -> JobContext:
    return JobContext(rt.settings, rt.session_factory, rt.secret_box)


def _run_ids(rt: Runtime, connection: str) -> set[str]:
    with rt.transaction() as session:
        return {r.id for r in service.list_runs(session=session, connection_id=connection, limit=1000)}


def _newest(rt: Runtime, connection: str, known: set[str]) -> GraphSyncRun | None:
    with rt.transaction() as session:
        runs = [r for r in service.list_runs(session=session, connection_id=connection, limit=5) if r.id not in known]
        return runs[0] if runs else None


@sync_app.command("run")
@readable_errors
def run(
    connection: str = ConnectionOption,
    full: bool = typer.Option(False, "--full", help="A full run even when delta links exist."),
    timeout: float = typer.Option(3600, "--timeout", help="Seconds to wait for a worker to finish the run."),
    as_json: bool = JsonOption,
) -> None:
    """Run a sync now, wait for it and print its record (with a progress bar for a long first sync)."""
    rt = runtime()
    with rt.transaction() as session:
        check_runnable(get_connection(session=session, connection_id=connection))
    known = _run_ids(rt, connection)
    runner = runner_for(_context(rt))
    runner.enqueue("graph.sync", connection_id=connection, full=full)
    worker = None
    if rt.settings.job_backend == "inprocess":  # no separate worker: run it here, under the same lock
        drain = getattr(runner, "drain")  # noqa: B009
        worker = threading.Thread(target=drain, daemon=True)
        worker.start()
    record = _wait(rt, connection, known, worker, timeout, show=not as_json)
    emit(run_json(record), as_json=as_json)
    if record.outcome == "failed":
        raise typer.Exit(1)


def _wait(
    rt: Runtime, connection: str, known: set[str], worker: threading.Thread | None, timeout: float, *, show: bool
) -> GraphSyncRun:
    deadline = time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, disable=not show, transient=True) as progress:
        task = progress.add_task("waiting for the run", total=None)
        while True:
            record = _newest(rt, connection, known)
            if record is not None:
                progress.update(
                    task, description=f"{record.mode} sync", total=record.expected, completed=record.processed
                )
                if record.outcome != "running" and (worker is None or not worker.is_alive()):
                    return record
            elif worker is not None and not worker.is_alive():
                raise UpstreamError("the sync job ended without a run record; see the log (koppel worker output)")
            if time.monotonic() > deadline:
                raise UpstreamError(f"no finished run after {timeout:.0f} s; is a koppel worker running?")
            time.sleep(0.2)


@sync_app.command("runs")
@readable_errors
def runs(
    connection: str = ConnectionOption,
    limit: int = typer.Option(20, "--limit", help="How many of the latest runs."),
    as_json: bool = JsonOption,
) -> None:
    """The latest runs of a connection: outcome, counts, Graph requests, errors."""
    with runtime().transaction() as session:
        rows = [run_json(r) for r in service.list_runs(session=session, connection_id=connection, limit=limit)]
    emit(rows, as_json=as_json, columns=RUN_COLUMNS, title="Sync runs")


def _decide(connection: str, run_id: str, approve: bool) -> dict[str, Any]:
    rt = runtime()
    with rt.transaction() as session:
        found = get_connection(session=session, connection_id=connection)
        if approve:
            record = service.approve_run(
                session=session,
                settings=rt.settings,
                connection=found,
                run_id=run_id or None,
                decided_by="cli",
                now=rt.now(),
            )
        else:
            record = service.reject_run(
                session=session, connection=found, run_id=run_id or None, decided_by="cli", now=rt.now()
            )
        return run_json(record)


@sync_app.command("approve")
@readable_errors
def approve(
    connection: str = ConnectionOption,
    run_id: str = typer.Option("", "--run", help="The run (default: the one awaiting approval)."),
    as_json: bool = JsonOption,
) -> None:
    """Apply a run the deletion guard stopped: the listed users are deactivated."""
    emit(_decide(connection, run_id, True), as_json=as_json)


@sync_app.command("reject")
@readable_errors
def reject(
    connection: str = ConnectionOption,
    run_id: str = typer.Option("", "--run", help="The run (default: the one awaiting approval)."),
    as_json: bool = JsonOption,
) -> None:
    """Drop a run the deletion guard stopped: nobody is deactivated."""
    emit(_decide(connection, run_id, False), as_json=as_json)

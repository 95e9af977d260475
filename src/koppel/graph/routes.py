"""Graph sync over HTTP: Entra onboarding, consent, check, runs and approvals (thin routes).

Under ``/api/v1/organizations/{org}/connections``; the consent callback is where Microsoft
sends the admin's browser back, so it is a page without API key (the signed state is the proof).
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from koppel.api.deps import ApiKeyDep, NowDep, SecretBoxDep, SessionDep, SettingsDep
from koppel.errors import KoppelError
from koppel.graph import service
from koppel.graph.protocol.consent import CALLBACK_PATH
from koppel.graph.schemas import CheckOut, ConsentLinkOut, EntraConnectionCreate, SyncRunOut
from koppel.graph.sync import check_runnable
from koppel.jobs import JobContext, runner_for
from koppel.organizations.connections import get_connection
from koppel.organizations.models import Connection
from koppel.organizations.routes import connection_out, owned_organization
from koppel.organizations.schemas import ConnectionOut

router = APIRouter(tags=["graph sync"])
PREFIX = "/api/v1/organizations/{org}/connections"


def _connection(session: Any, key: Any, org: str, connection_id: str) -> Connection:
    found = owned_organization(session, key, org)
    return get_connection(session=session, connection_id=connection_id, org_id=found.id)


def enqueue_sync(request: Request, connection_id: str, *, full: bool = False) -> None:
    """Start a run now: the server's own job runner when it has one, else the configured backend."""
    runner = getattr(request.app.state, "jobs", None)
    if runner is None:
        state = request.app.state
        runner = runner_for(JobContext(state.settings, state.session_factory, state.secret_box, state.clock))
    runner.enqueue("graph.sync", connection_id=connection_id, full=full)


@router.post(f"{PREFIX}/entra", status_code=201)
def add_entra(
    org: str,
    body: EntraConnectionCreate,
    session: SessionDep,
    key: ApiKeyDep,
    box: SecretBoxDep,
    settings: SettingsDep,
    now: NowDep,
) -> dict[str, Any]:
    """Add an Entra ID connection; it starts in needs_consent and the admin gets the consent link."""
    owned_organization(session, key, org)
    connection, link = service.add_entra(
        session=session,
        secret_box=box,
        settings=settings,
        org=org,
        tenant=body.tenant_id,
        group_ids=body.group_ids,
        admin_email=body.admin_email,
        transitive=body.transitive,
        locale=body.locale,
        name=body.name,
        now=now,
    )
    return {
        "connection": connection_out(box, connection).model_dump(mode="json"),
        **ConsentLinkOut.of(link).model_dump(mode="json"),
    }


@router.post(f"{PREFIX}/{{connection_id}}/consent-link", response_model=ConsentLinkOut)
def new_consent_link(
    org: str, connection_id: str, session: SessionDep, key: ApiKeyDep, settings: SettingsDep, now: NowDep
) -> ConsentLinkOut:
    """A fresh admin-consent link (e-mailed again when the connection has an admin e-mail)."""
    connection = _connection(session, key, org, connection_id)
    return ConsentLinkOut.of(service.consent_link(session=session, settings=settings, connection=connection, now=now))


@router.post(f"{PREFIX}/{{connection_id}}/check", response_model=CheckOut)
def check(
    org: str,
    connection_id: str,
    request: Request,
    session: SessionDep,
    key: ApiKeyDep,
    settings: SettingsDep,
    now: NowDep,
) -> CheckOut:
    """Re-test token and group access now and move the status on."""
    connection = _connection(session, key, org, connection_id)
    result = service.check_connection(session=session, settings=settings, connection=connection, now=now)
    if result.sync_due:
        session.commit()
        enqueue_sync(request, connection.id)
    return CheckOut.of(result)


@router.post(f"{PREFIX}/{{connection_id}}/sync-runs", status_code=202)
def start_run(
    org: str, connection_id: str, request: Request, session: SessionDep, key: ApiKeyDep, full: bool = False
) -> dict[str, Any]:
    """Run a sync now (queued; follow it in GET .../sync-runs)."""
    connection = _connection(session, key, org, connection_id)
    check_runnable(connection)
    enqueue_sync(request, connection.id, full=full)
    return {"queued": True, "connection_id": connection.id}


@router.get(f"{PREFIX}/{{connection_id}}/sync-runs", response_model=list[SyncRunOut])
def list_runs(org: str, connection_id: str, session: SessionDep, key: ApiKeyDep, limit: int = 20) -> list[SyncRunOut]:
    connection = _connection(session, key, org, connection_id)
    return [
        SyncRunOut.of(r)
        for r in service.list_runs(session=session, connection_id=connection.id, limit=min(max(limit, 1), 200))
    ]


@router.get(f"{PREFIX}/{{connection_id}}/sync-runs/{{run_id}}", response_model=SyncRunOut)
def read_run(org: str, connection_id: str, run_id: str, session: SessionDep, key: ApiKeyDep) -> SyncRunOut:
    connection = _connection(session, key, org, connection_id)
    return SyncRunOut.of(service.get_run(session=session, connection_id=connection.id, run_id=run_id))


@router.post(f"{PREFIX}/{{connection_id}}/sync-runs/{{run_id}}/approve", response_model=SyncRunOut)
def approve(
    org: str, connection_id: str, run_id: str, session: SessionDep, key: ApiKeyDep, settings: SettingsDep, now: NowDep
) -> SyncRunOut:
    """Apply a run parked by the accidental-deletion guard: the listed users are deactivated."""
    connection = _connection(session, key, org, connection_id)
    run = service.approve_run(
        session=session,
        settings=settings,
        connection=connection,
        run_id=run_id,
        decided_by=f"api key {key.name}",
        now=now,
    )
    return SyncRunOut.of(run)


@router.post(f"{PREFIX}/{{connection_id}}/sync-runs/{{run_id}}/reject", response_model=SyncRunOut)
def reject(org: str, connection_id: str, run_id: str, session: SessionDep, key: ApiKeyDep, now: NowDep) -> SyncRunOut:
    """Drop a run parked by the guard: nobody is deactivated."""
    connection = _connection(session, key, org, connection_id)
    run = service.reject_run(
        session=session, connection=connection, run_id=run_id, decided_by=f"api key {key.name}", now=now
    )
    return SyncRunOut.of(run)


@router.get(CALLBACK_PATH, response_class=HTMLResponse, include_in_schema=False)
def consent_callback(request: Request, session: SessionDep, settings: SettingsDep, now: NowDep) -> HTMLResponse:
    """Where Microsoft sends the admin back after the consent screen (spec §5)."""
    try:
        outcome = service.consent_callback(
            session=session, settings=settings, params=dict(request.query_params), now=now
        )
    except KoppelError as exc:
        return _page("Consent not accepted", exc.detail, 400)
    if outcome.accepted and outcome.check is not None and outcome.check.sync_due:
        session.commit()
        enqueue_sync(request, outcome.connection.id)
    if outcome.accepted:
        return _page("Thank you", "Consent was given. The first synchronisation has started.", 200)
    return _page("Consent not completed", outcome.message, 400 if outcome.rejected else 200)


PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
    "<body><h1>{title}</h1><p id='message'>{text}</p></body></html>"
)


def _page(title: str, text: str, status: int) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), text=html.escape(text)), status_code=status)


__all__ = ["ConnectionOut", "router"]

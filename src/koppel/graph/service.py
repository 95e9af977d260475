"""Onboarding, admin consent, checks and approvals of Entra connections (issue 4 §2, §3, §5, §6).

The API and the CLI call these; the engine itself is ``sync.run_sync``. Functions that talk to
Microsoft take ``settings`` (authority, Graph URL, app credential) and build their own HTTP
client; everything else is keyword-only ``(*, session, ..., now)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.errors import InvalidInput, NotFound
from koppel.graph import mail
from koppel.graph.client import TIMEOUT, GraphClient, forget_tokens, resolve_tenant
from koppel.graph.config import LOCALES, EntraConfig
from koppel.graph.errors import ConsentMissing, ConsentRejected, GraphDenied, ScopeInvalid, SyncNotAllowed
from koppel.graph.full import check_group
from koppel.graph.models import GraphConsentState, GraphSyncRun, GraphSyncState
from koppel.graph.plan import Plan
from koppel.graph.protocol import consent
from koppel.graph.protocol.tenant import as_guid, is_domain
from koppel.graph.sync import RUNNABLE, apply_plan
from koppel.organizations.connections import create_connection, get_connection, set_status
from koppel.organizations.models import Connection
from koppel.organizations.service import get_organization
from koppel.security.crypto import SecretBox
from koppel.settings import Settings

CONSENT_TTL = timedelta(days=7)
CHECK_EVERY = timedelta(minutes=15)


@dataclass
class ConsentLink:
    url: str
    expires_at: datetime
    emailed_to: str | None = None
    mail_error: str | None = None


@dataclass
class CheckResult:
    status: str
    last_error: str | None
    groups: list[dict[str, Any]] = field(default_factory=list)
    sync_due: bool = False  # the connection just became healthy: start its first sync


# --- onboarding (issue 4 §2) ---------------------------------------------------------------------------------
def add_entra(
    *,
    session: Session,
    secret_box: SecretBox,
    settings: Settings,
    org: str,
    tenant: str,
    group_ids: list[str],
    admin_email: str | None = None,
    transitive: bool = False,
    locale: str = "nl",
    name: str | None = None,
    now: datetime,
) -> tuple[Connection, ConsentLink]:
    """A new Entra connection in ``needs_consent`` and its consent link (e-mailed when an admin is given)."""
    get_organization(session=session, ref=org)  # a wrong org fails before we call Microsoft
    groups = _check_groups(group_ids)
    _check_admin(admin_email, locale)
    tenant_input = tenant.strip()
    with httpx.Client(timeout=TIMEOUT) as http:
        tenant_id = resolve_tenant(settings=settings, http=http, tenant=_check_tenant(tenant_input))
    config = EntraConfig(tenant_id, groups, admin_email or None, transitive, locale, tenant_input=tenant_input.lower())
    connection = create_connection(
        session=session,
        secret_box=secret_box,
        org=org,
        kind="entra",
        name=name or f"Entra ID {tenant_input.lower()}",
        settings=config.to_settings(),
        now=now,
    )
    return connection, consent_link(session=session, settings=settings, connection=connection, now=now)


def _check_tenant(value: str) -> str:
    guid = as_guid(value)
    if guid is not None:
        return guid
    if is_domain(value):
        return value.lower()
    raise InvalidInput(
        f"tenant id {value!r} is neither a GUID (like 3da4a34e-223c-428f-90c6-e1b0dccdf3f2, on the Entra overview "
        "page) nor a tenant domain (like contoso.onmicrosoft.com)",
        field="tenant_id",
    )


def _check_groups(values: list[str]) -> list[str]:
    if not values:
        raise InvalidInput("give the Object ID of at least one security group (--group-id)", field="group_id")
    groups: list[str] = []
    for value in values:
        guid = as_guid(value)
        if guid is None:
            raise InvalidInput(
                f"group id {value!r} is not a GUID; copy the group's Object ID from Entra (Groups > All groups)",
                field="group_id",
            )
        if guid not in groups:
            groups.append(guid)
    return groups


def _check_admin(admin_email: str | None, locale: str) -> None:
    if admin_email and ("@" not in admin_email or " " in admin_email.strip()):
        raise InvalidInput(f"admin e-mail {admin_email!r} is not an e-mail address", field="admin_email")
    if locale not in LOCALES:
        raise InvalidInput(f"locale {locale!r} is not one of {', '.join(LOCALES)}", field="locale")


# --- admin consent (issue 4 §3) ------------------------------------------------------------------------------
def consent_link(
    *, session: Session, settings: Settings, connection: Connection, now: datetime, send: bool = True
) -> ConsentLink:
    """A fresh admin-consent link bound to the connection (signed state, expiring, single use)."""
    config = EntraConfig.of(connection.settings)
    state = consent.sign_state(key=settings.secret, connection_id=connection.id, now=now, ttl=CONSENT_TTL)
    url = consent.admin_consent_url(
        authority=settings.entra_authority,
        tenant_id=config.tenant_id,
        client_id=settings.entra_client_id,
        base_url=settings.base_url,
        state=state,
    )
    link = ConsentLink(url, now + CONSENT_TTL)
    if send and config.admin_email:
        organization = get_organization(session=session, ref=connection.org_id).name
        subject, body = mail.render_consent_mail(
            config.locale,
            organization=organization,
            groups=config.group_ids,
            tenant_id=config.tenant_id,
            consent_url=url,
            expires=link.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
        try:
            mail.send(settings, to=config.admin_email, subject=subject, body=body)
            link.emailed_to = config.admin_email
        except mail.MailNotSent as exc:
            link.mail_error = exc.detail
    return link


@dataclass
class ConsentOutcome:
    connection: Connection
    accepted: bool
    message: str
    check: CheckResult | None = None
    rejected: bool = False  # consent from another tenant: refused, not merely incomplete


def consent_callback(*, session: Session, settings: Settings, params: dict[str, str], now: datetime) -> ConsentOutcome:
    """Microsoft's redirect after the admin answered (spec §5). Raises ``ConsentRejected`` for a state
    koppel did not issue, that expired or that was used before."""
    answer = consent.parse_callback(params)
    try:
        connection_id = consent.verify_state(key=settings.secret, state=answer.state, now=now)
    except consent.StateInvalid as exc:
        raise ConsentRejected(str(exc), field="state") from None
    digest = consent.state_hash(answer.state)
    if session.get(GraphConsentState, digest) is not None:
        raise ConsentRejected("this consent link was already used; ask for a new one", field="state")
    connection = get_connection(session=session, connection_id=connection_id)
    session.add(GraphConsentState(state_hash=digest, connection_id=connection.id, used_at=now))
    config = EntraConfig.of(connection.settings)
    waiting = connection.status if connection.status in ("needs_consent", "consent_revoked") else "needs_consent"
    if not answer.granted:
        message = f"the tenant admin did not give consent: {answer.reason}"
        set_status(session=session, connection=connection, status=waiting, last_error=message, now=now)
        return ConsentOutcome(connection, False, message)
    if as_guid(answer.tenant_id or "") != config.tenant_id:
        message = (
            f"consent came from tenant {answer.tenant_id}, but this connection is for tenant {config.tenant_id}; "
            "the admin must sign in to the right tenant"
        )
        set_status(session=session, connection=connection, status=waiting, last_error=message, now=now)
        return ConsentOutcome(connection, False, message, rejected=True)
    check = check_connection(session=session, settings=settings, connection=connection, now=now)
    return ConsentOutcome(connection, check.status == "healthy", check.last_error or "consent given", check)


# --- check (issue 4 §3 last paragraph) -----------------------------------------------------------------------
def check_connection(*, session: Session, settings: Settings, connection: Connection, now: datetime) -> CheckResult:
    """Re-test token and group access now and move the status on (e.g. after consent in the portal)."""
    config = EntraConfig.of(connection.settings)
    forget_tokens(settings, config.tenant_id)  # a fresh token: consent may have changed since the last one
    result = CheckResult(connection.status, connection.last_error)
    try:
        with httpx.Client(timeout=TIMEOUT) as http:
            graph = GraphClient(settings=settings, tenant_id=config.tenant_id, http=http)
            for group_id in config.group_ids:
                item = check_group(graph, group_id)
                result.groups.append({"id": group_id, "display_name": item.get("displayName"), "ok": True})
        status, message = "healthy", None
    except (ConsentMissing, GraphDenied) as exc:
        status = "needs_consent" if connection.status == "needs_consent" else "consent_revoked"
        message = exc.detail
    except ScopeInvalid as exc:
        status, message = "failing", exc.detail
    state = session.get(GraphSyncState, connection.id) or GraphSyncState(connection_id=connection.id, tracked_groups=[])
    state.last_check_at = now
    session.add(state)
    if connection.status == "awaiting_approval":
        status = "awaiting_approval"  # a parked run decides; the check does not override the admin's review
    result.sync_due = status == "healthy" and connection.status != "healthy"
    set_status(session=session, connection=connection, status=status, last_error=message, now=now)
    result.status, result.last_error = connection.status, connection.last_error
    return result


# --- runs and approvals (issue 4 §5, §6) ---------------------------------------------------------------------
def list_runs(*, session: Session, connection_id: str, limit: int = 20) -> list[GraphSyncRun]:
    query = (
        select(GraphSyncRun)
        .where(GraphSyncRun.connection_id == connection_id)
        .order_by(GraphSyncRun.started_at.desc(), GraphSyncRun.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def get_run(*, session: Session, connection_id: str, run_id: str) -> GraphSyncRun:
    run = session.get(GraphSyncRun, run_id)
    if run is None or run.connection_id != connection_id:
        raise NotFound(f"no sync run {run_id!r} for connection {connection_id}; list them with koppel sync runs")
    return run


def pending_run(*, session: Session, connection_id: str, run_id: str | None = None) -> GraphSyncRun:
    """The run of this connection that awaits approval (the given one, or the only one)."""
    if run_id:
        run = get_run(session=session, connection_id=connection_id, run_id=run_id)
    else:
        query = select(GraphSyncRun).where(
            GraphSyncRun.connection_id == connection_id, GraphSyncRun.outcome == "awaiting_approval"
        )
        found = session.scalars(query.order_by(GraphSyncRun.started_at.desc())).first()
        if found is None:
            raise NotFound(f"connection {connection_id} has no run awaiting approval")
        run = found
    if run.outcome != "awaiting_approval" or not run.pending:
        raise SyncNotAllowed(f"run {run.id} is {run.outcome}, not awaiting approval")
    return run


def approve_run(
    *, session: Session, settings: Settings, connection: Connection, run_id: str | None, decided_by: str, now: datetime
) -> GraphSyncRun:
    """Apply the parked plan: the deactivations happen and the delta links move on."""
    run = pending_run(session=session, connection_id=connection.id, run_id=run_id)
    assert run.pending is not None
    plan = Plan.from_json(run.pending["plan"])
    result = apply_plan(session, settings=settings, connection=connection, plan=plan, now=now)
    run.created += result.users_created
    run.updated += result.users_updated
    run.deactivated += result.users_deactivated
    run.outcome, run.decided_by, run.pending = "approved", decided_by, {**run.pending, "plan": None}
    return run


def reject_run(
    *, session: Session, connection: Connection, run_id: str | None, decided_by: str, now: datetime
) -> GraphSyncRun:
    """Drop the parked plan; nobody is deactivated. The delta links stay where they were, so the next
    run sees the same changes again: fix the group in Entra first, or the guard stops that run too."""
    run = pending_run(session=session, connection_id=connection.id, run_id=run_id)
    assert run.pending is not None
    run.outcome, run.decided_by, run.pending = "rejected", decided_by, {**run.pending, "plan": None}
    message = f"run {run.id} was rejected by {decided_by}; nobody was deactivated"
    set_status(session=session, connection=connection, status="healthy", last_error=message, now=now)
    return run


# --- scheduling (issue 4 §6) ---------------------------------------------------------------------------------
def due_work(*, session: Session, now: datetime) -> tuple[list[str], list[str]]:
    """(connections whose interval has passed and may sync, connections waiting for consent to re-check)."""
    syncs, checks = [], []
    for connection in session.scalars(select(Connection).where(Connection.kind == "entra")):
        config = EntraConfig.of(connection.settings)
        if connection.status in RUNNABLE:
            last = session.scalar(
                select(GraphSyncRun.started_at)
                .where(GraphSyncRun.connection_id == connection.id)
                .order_by(GraphSyncRun.started_at.desc())
                .limit(1)
            )
            if last is None or now - last >= timedelta(seconds=config.interval_seconds):
                syncs.append(connection.id)
        elif connection.status in ("needs_consent", "consent_revoked"):
            state = session.get(GraphSyncState, connection.id)
            if state is None or state.last_check_at is None or now - state.last_check_at >= CHECK_EVERY:
                checks.append(connection.id)
    return syncs, checks

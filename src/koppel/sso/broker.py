"""The broker's steps between the host app's authorization request and the upstream callback.

Finding the organization (issue 5 §2): the ``organization`` parameter (slug), the domain of a
``login_hint`` or typed e-mail (home-realm discovery over verified domains), or the entry link
``/sso/{org}``. Then the organization's SSO connection, the upstream leg, and the login.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.errors import KoppelError, NotFound, UpstreamError
from koppel.organizations.models import Connection, Organization, OrganizationDomain
from koppel.security.crypto import SecretBox
from koppel.settings import Settings
from koppel.sso import service
from koppel.sso.errors import LoginFailed
from koppel.sso.models import SsoSession
from koppel.sso.protocol.claims import UpstreamIdentity
from koppel.sso.upstream import graph, login
from koppel.sso.upstream.config import UpstreamConfig, upstream_config
from koppel.sso.upstream.fetcher import UpstreamFetcher

SSO_KINDS = ("entra", "oidc")


def find_org(*, session: Session, slug: str | None = None, email: str | None = None) -> Organization | None:
    if slug:
        return session.scalar(select(Organization).where(Organization.slug == slug.strip().lower()))
    domain = email.rsplit("@", 1)[1].strip().lower() if email and "@" in email else None
    if not domain:
        return None
    return session.scalar(
        select(Organization)
        .join(OrganizationDomain)
        .where(OrganizationDomain.domain == domain, OrganizationDomain.verified.is_(True))
    )


def pick_connection(*, session: Session, org: Organization) -> Connection:
    """The organization's sign-in connection: an explicit ``settings.sso_connection_id``, else the first."""
    preferred = (org.settings or {}).get("sso_connection_id")
    rows = session.scalars(
        select(Connection)
        .where(Connection.org_id == org.id, Connection.kind.in_(SSO_KINDS))
        .order_by(Connection.created_at, Connection.id)
    ).all()
    usable = [c for c in rows if c.status != "paused" and (c.settings or {}).get("sso", True)]
    chosen = next((c for c in usable if c.id == preferred), usable[0] if usable else None)
    if chosen is None:
        raise NotFound(f"{org.name} has no sign-in connection yet; its IT admin adds one in koppel")
    return chosen


def begin(
    *,
    session: Session,
    fetcher: UpstreamFetcher,
    settings: Settings,
    secret_box: SecretBox,
    org: Organization,
    request: dict[str, Any],
    login_hint: str | None,
    now: datetime,
) -> tuple[str, str]:
    """Start the upstream leg; returns (IdP URL, state)."""
    connection = pick_connection(session=session, org=org)
    config = upstream_config(connection, settings=settings, secret_box=secret_box)
    return login.start_login(
        session=session,
        fetcher=fetcher,
        config=config,
        base_url=settings.base_url,
        request=request,
        login_hint=login_hint,
        now=now,
    )


def callback(
    *,
    session: Session,
    fetcher: UpstreamFetcher,
    settings: Settings,
    secret_box: SecretBox,
    connection_id: str,
    params: dict[str, str],
    browser_state: str | None,
    now: datetime,
) -> tuple[SsoSession, dict[str, Any]]:
    """The IdP's answer on ``/sso/callback/{connection_id}`` → a koppel session, or LoginFailed.

    Failures are recorded as ``sso.login.failed`` with their reason and re-raised.
    """
    config: UpstreamConfig | None = None
    try:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise LoginFailed("connection", "this sign-in connection no longer exists")
        config = upstream_config(connection, settings=settings, secret_box=secret_box)
        state = params.get("state", "")
        tx = login.take_transaction(session=session, state=state, connection_id=connection_id, now=now)
        if browser_state != state:
            raise LoginFailed("browser", "this sign-in was started in another browser; start again from the app")
        if params.get("error"):
            raise LoginFailed(
                "idp_error", f"the identity provider said: {params.get('error_description') or params['error']}"
            )
        done = login.finish_login(
            fetcher=fetcher, config=config, tx=tx, code=params.get("code", ""), base_url=settings.base_url, now=now
        )
        sso_session = service.complete_login(
            session=session,
            config=config,
            identity=done.identity,
            now=now,
            resolve_overage=lambda identity: _overage(fetcher, config, settings, identity),
            enrich=lambda identity: _profile(fetcher, config, settings, identity, done.access_token),
        )
        return sso_session, done.request
    except KoppelError as exc:
        reason = getattr(exc, "reason", exc.code)
        service.login_event(session, "sso.login.failed", config, now, reason=reason, detail=exc.detail)
        raise


def _overage(
    fetcher: UpstreamFetcher, config: UpstreamConfig, settings: Settings, identity: UpstreamIdentity
) -> list[tuple[str, str | None]]:
    if not config.is_entra:
        return []
    try:
        return graph.overage_groups(
            fetcher=fetcher, config=config, graph_url=settings.graph_url, user_oid=identity.subject
        )
    except UpstreamError as exc:  # without the groups the roles would be wrong: refuse, say how to fix
        raise LoginFailed(
            "groups_overage",
            f"the user is in more groups than fit in a token and Microsoft Graph could not list them ({exc.detail}); "
            "grant the app GroupMember.Read.All (application) with admin consent",
        ) from exc


def _profile(
    fetcher: UpstreamFetcher,
    config: UpstreamConfig,
    settings: Settings,
    identity: UpstreamIdentity,
    access_token: str | None,
) -> UpstreamIdentity:
    if not config.is_entra:
        return identity
    return graph.with_profile(
        fetcher=fetcher, graph_url=settings.graph_url, access_token=access_token, identity=identity
    )

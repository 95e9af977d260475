"""The broker's steps between the host app's authorization request and the upstream callback.

Finding the organization (issue 5 §2): the ``organization`` parameter (slug), the domain of a
``login_hint`` or typed e-mail (home-realm discovery over verified domains), or the entry link
``/sso/{org}``. Then the organization's SSO connection, the upstream leg, and the login.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from koppel.db.direct import Direct
from koppel.errors import KoppelError, NotFound, UpstreamError
from koppel.organizations.models import Connection, Organization, OrganizationDomain
from koppel.security.crypto import SecretBox
from koppel.settings import Settings
from koppel.sso import service
from koppel.sso.cache import SsoCache
from koppel.sso.errors import LoginFailed
from koppel.sso.orgs import COLUMNS, OrgRef, org_ref
from koppel.sso.protocol.claims import UpstreamIdentity
from koppel.sso.provider import service as provider_service
from koppel.sso.runtime import SsoRuntime
from koppel.sso.upstream import graph, login
from koppel.sso.upstream.config import UpstreamConfig, upstream_config
from koppel.sso.upstream.fetcher import UpstreamFetcher

SSO_KINDS = ("entra", "oidc")


# Built once, on the driver's cursor (the login path).
_ORG_BY_SLUG = Direct(select(*COLUMNS).where(Organization.slug == bindparam("slug")))
_CONNECTIONS = Direct(  # what picking one needs; its settings for a login are cached (``SsoCache.upstream``)
    select(Connection.id, Connection.status, Connection.settings, Connection.updated_at)
    .where(Connection.org_id == bindparam("org_id"), or_(*(Connection.kind == kind for kind in SSO_KINDS)))
    .order_by(Connection.created_at, Connection.id)
)


def find_org(*, session: Session, slug: str | None = None, email: str | None = None) -> OrgRef | None:
    if slug:
        rows = _ORG_BY_SLUG.rows(session.connection(), {"slug": slug.strip().lower()})
        return org_ref(rows[0]) if rows else None
    domain = email.rsplit("@", 1)[1].strip().lower() if email and "@" in email else None
    if not domain:
        return None
    row = session.execute(
        select(*COLUMNS)
        .join(OrganizationDomain)
        .where(OrganizationDomain.domain == domain, OrganizationDomain.verified.is_(True))
    ).first()
    return org_ref(row) if row else None


def pick_connection(*, session: Session, org: OrgRef) -> tuple[str, datetime]:
    """(id, updated_at) of the organization's sign-in connection: an explicit
    ``settings.sso_connection_id``, else the first."""
    preferred = (org.settings or {}).get("sso_connection_id")
    rows = _CONNECTIONS.rows(session.connection(), {"org_id": org.id})
    usable = [(c_id, updated) for c_id, status, s, updated in rows if status != "paused" and (s or {}).get("sso", True)]
    chosen = next((c for c in usable if c[0] == preferred), usable[0] if usable else None)
    if chosen is None:
        raise NotFound(f"{org.name} has no sign-in connection yet; its IT admin adds one in koppel")
    return chosen


def begin(
    *,
    session: Session,
    fetcher: UpstreamFetcher,
    settings: Settings,
    secret_box: SecretBox,
    org: OrgRef,
    request: dict[str, Any],
    login_hint: str | None,
    now: datetime,
    cache: SsoCache,
) -> tuple[str, str]:
    """Start the upstream leg; returns (IdP URL, state)."""
    connection_id, updated_at = pick_connection(session=session, org=org)

    def load() -> UpstreamConfig:
        connection = session.get_one(Connection, connection_id)
        return upstream_config(connection, settings=settings, secret_box=secret_box)

    return login.start_login(
        session=session,
        fetcher=fetcher,
        config=cache.upstream(connection_id, load, version=updated_at),  # read again once the row changed
        base_url=settings.base_url,
        request=request,
        login_hint=login_hint,
        now=now,
    )


@dataclass(frozen=True)
class Landing:
    """Where the browser goes after the callback: the app's redirect URI with a code or with
    ``error=access_denied`` (``refused`` then says why)."""

    location: str
    refused: LoginFailed | None = None


def callback(*, rt: SsoRuntime, connection_id: str, params: dict[str, str], browser_state: str | None) -> Landing:
    """The IdP's answer on ``/sso/callback/{connection_id}`` → the app's redirect, or LoginFailed.

    Nothing is held open during the call to the IdP (on SQLite a transaction holds the database's
    write lock): consume the state (one statement); redeem the IdP's code and validate its ID
    token; complete the login and issue the app's code (one transaction). A failure is recorded as
    ``sso.login.failed`` with its reason; an access-policy refusal goes back to the app as
    ``access_denied``, anything else is raised for koppel's error page.
    """
    now = rt.clock()
    config: UpstreamConfig | None = None
    resumed: dict[str, Any] | None = None
    try:
        state = params.get("state", "")
        with rt.statements() as session:  # one conditional UPDATE

            def load() -> UpstreamConfig:
                connection = session.get(Connection, connection_id)
                if connection is None:
                    raise LoginFailed("connection", "this sign-in connection no longer exists")
                return upstream_config(connection, settings=rt.settings, secret_box=rt.secret_box)

            config = rt.cache.upstream(connection_id, load)  # as /oauth2/authorize just read it, mostly
            tx = login.take_transaction(session=session, state=state, connection_id=connection_id, now=now)
        if browser_state != state:
            raise LoginFailed("browser", "this sign-in was started in another browser; start again from the app")
        resumed = dict(tx.request)
        if params.get("error"):
            raise LoginFailed(
                "idp_error", f"the identity provider said: {params.get('error_description') or params['error']}"
            )
        done = login.finish_login(
            fetcher=rt.fetcher, config=config, tx=tx, code=params.get("code", ""), base_url=rt.settings.base_url,
            now=now,
        )  # fmt: skip
        with rt.transaction() as session:
            sso_session = service.complete_login(
                session=session,
                config=config,
                identity=done.identity,
                now=now,
                resolve_overage=lambda identity: _overage(rt.fetcher, config, rt.settings, identity),
                enrich=lambda identity: _profile(rt.fetcher, config, rt.settings, identity, done.access_token),
            )
            try:
                location = provider_service.issue_code(
                    rt.provider(session, now), resumed=resumed, sso_session=sso_session
                )
            except OAuth2Error as error:
                raise LoginFailed(
                    "client", "the app's sign-in request is no longer valid; start again from the app"
                ) from error
        return Landing(location)
    except KoppelError as exc:
        reason = getattr(exc, "reason", exc.code)
        with rt.transaction() as session:
            service.login_event(session, "sso.login.failed", config, now, reason=reason, detail=exc.detail)
        denied = provider_service.deny(resumed=resumed, description=exc.detail) if resumed else None
        if isinstance(exc, LoginFailed) and exc.refused and denied:
            return Landing(denied, refused=exc)
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

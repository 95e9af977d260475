"""Who may sign in, and as which koppel user (issue 5 §5).

The organization's boundary: for Entra its tenant (checked on the token's ``tid``, guests of
that tenant included); for an IdP that is not the organization's own, a verified e-mail address
in one of the organization's domains. Then directory-only (the user must exist and be active
in the synced directory; the default where the organization syncs) or just-in-time creation,
which goes through ``directory.service.apply_changes``, the directory's only writer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from koppel.db.direct import Direct
from koppel.directory import service as directory_service
from koppel.directory.changes import ChangeSet, UserRecord
from koppel.directory.models import DirectoryUser
from koppel.organizations.models import Connection, OrganizationDomain
from koppel.sso.errors import LoginFailed
from koppel.sso.orgs import OrgRef
from koppel.sso.protocol.claims import UpstreamIdentity
from koppel.sso.upstream.config import CUSTOMER_APP, UpstreamConfig

PROVISIONING_SETTING = "sso_provisioning"  # Organization.settings: "jit" | "directory"


def check_boundary(*, session: Session, config: UpstreamConfig, identity: UpstreamIdentity) -> None:
    if config.is_entra or config.organization_owned:
        return  # Entra: the tid check in token validation is the boundary
    domains = set(
        session.scalars(
            select(OrganizationDomain.domain).where(
                OrganizationDomain.org_id == config.org_id, OrganizationDomain.verified.is_(True)
            )
        )
    )
    if not identity.email_verified or identity.email_domain not in {d.lower() for d in domains}:
        raise LoginFailed(
            "domain",
            f"{identity.email or 'this account'} is not a verified address in one of the organization's "
            "domains; sign in with your work account",
        )


def provisioning_mode(*, session: Session, org: OrgRef) -> str:
    explicit = (org.settings or {}).get(PROVISIONING_SETTING)
    if explicit in ("jit", "directory"):
        return str(explicit)
    return "directory" if _has_directory_sync(session, org.id) else "jit"


def _has_directory_sync(session: Session, org_id: str) -> bool:
    for kind, settings in session.execute(
        select(Connection.kind, Connection.settings).where(Connection.org_id == org_id)
    ):
        if kind == "scim" or (
            kind == "entra" and (settings or {}).get("mode") != CUSTOMER_APP and (settings or {}).get("sync", True)
        ):
            return True
    return False


def resolve_user(
    *,
    session: Session,
    org: OrgRef,
    config: UpstreamConfig,
    identity: UpstreamIdentity,
    enrich: Callable[[UpstreamIdentity], UpstreamIdentity] | None = None,
    now: datetime,
) -> str:
    """The koppel user id to sign in as (found, or created just in time), or LoginFailed."""
    found = _find_user(session, org.id, config, identity)
    if found is not None and found[1] != "active":
        raise LoginFailed("deactivated", "your account is deactivated in the organization's directory")
    if found is not None:
        return str(found[0])
    if provisioning_mode(session=session, org=org) == "directory":
        raise LoginFailed(
            "not_in_directory",
            "your account is not in the organization's synced directory; ask your IT admin to add you",
        )
    with session.begin_nested():  # a failed creation leaves no partial record in the login's transaction
        return _create_jit(session, org, config, enrich(identity) if enrich else identity, now)


_USER_BY_EXTERNAL_ID = Direct(  # built once (the login path); the user synced by this connection first
    select(DirectoryUser.id, DirectoryUser.status)
    .where(DirectoryUser.org_id == bindparam("org_id"), DirectoryUser.external_id == bindparam("external_id"))
    .order_by((DirectoryUser.connection_id == bindparam("connection_id")).desc())
    .limit(1)
)


def _find_user(
    session: Session, org_id: str, config: UpstreamConfig, identity: UpstreamIdentity
) -> Sequence[Any] | None:
    """(id, status) of the user; columns, not the entity, as the login needs no more."""
    # The source's immutable id first (Entra oid = Graph id, DESIGN.md "Directory").
    params = {"org_id": org_id, "external_id": identity.subject, "connection_id": config.connection_id}
    by_id = next(iter(_USER_BY_EXTERNAL_ID.rows(session.connection(), params)), None)
    if by_id is not None or config.is_entra or not identity.email_verified or not identity.email:
        return by_id
    # Generic IdPs have their own subject ids: a verified address matches a synced user.
    return session.execute(
        select(DirectoryUser.id, DirectoryUser.status).where(
            DirectoryUser.org_id == org_id, func.lower(DirectoryUser.email) == identity.email
        )
    ).first()


def _create_jit(
    session: Session, org: OrgRef, config: UpstreamConfig, identity: UpstreamIdentity, now: datetime
) -> str:
    record = UserRecord(
        external_id=identity.subject,
        user_name=identity.username or identity.email or identity.subject,
        email=identity.email,
        display_name=identity.name,
        given_name=identity.given_name,
        family_name=identity.family_name,
        attributes={"created_by": "sso", "issuer": identity.issuer},
    )
    changes = ChangeSet(org_id=org.id, connection_id=config.connection_id, upsert_users=[record])
    result = directory_service.apply_changes(session=session, changes=changes, now=now)
    return result.user_ids[identity.subject]

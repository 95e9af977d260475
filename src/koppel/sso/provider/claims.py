"""The claims koppel's tokens carry (issue 5 §1; DESIGN.md "SSO broker"): the host-app contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.directory.models import DirectoryUser
from koppel.organizations.models import Organization
from koppel.sso.models import SsoSession


@dataclass(frozen=True)
class ClaimSubject:
    """The user and organization columns the tokens' claims come from (read as columns, not entities)."""

    user_id: str
    status: str
    email: str | None
    display_name: str | None
    given_name: str | None
    family_name: str | None
    user_name: str | None
    org_id: str
    org_slug: str
    org_name: str


SUBJECT_COLUMNS = (
    DirectoryUser.id,
    DirectoryUser.status,
    DirectoryUser.email,
    DirectoryUser.display_name,
    DirectoryUser.given_name,
    DirectoryUser.family_name,
    DirectoryUser.user_name,
    Organization.id,
    Organization.slug,
    Organization.name,
)


def subject_from(row: Any) -> ClaimSubject:
    """From a row whose last columns are ``SUBJECT_COLUMNS``."""
    return ClaimSubject(*row[-len(SUBJECT_COLUMNS) :])


def load_subject(session: Session, sso_session: SsoSession) -> ClaimSubject | None:
    row = session.execute(
        select(*SUBJECT_COLUMNS)
        .join(Organization, Organization.id == DirectoryUser.org_id)
        .where(DirectoryUser.id == sso_session.user_id)
    ).first()
    return subject_from(row) if row else None


def user_claims(
    *, session: Session, sso_session: SsoSession, scope: str, subject: ClaimSubject | None = None
) -> dict[str, Any]:
    """OIDC Core §5.1 standard claims plus koppel's ``org``, ``roles``, ``groups``, ``idp``, ``amr``."""
    if subject is None or subject.user_id != sso_session.user_id:
        subject = load_subject(session, sso_session)
    if subject is None:
        raise ValueError(f"the user of sign-in session {sso_session.id} no longer exists")
    scopes = set(scope.split())
    claims: dict[str, Any] = {
        "sub": subject.user_id,
        "org": {"id": subject.org_id, "slug": subject.org_slug, "name": subject.org_name},
        "roles": list(sso_session.roles),
        "groups": list(sso_session.groups),
        "idp": sso_session.idp,
        "amr": list(sso_session.amr),
        "auth_time": int(sso_session.auth_time.timestamp()),
        "sid": sso_session.id,
    }
    if "email" in scopes and subject.email:
        claims["email"] = subject.email
        claims["email_verified"] = True  # the organization's IdP vouched for it (access policy §5)
    if "profile" in scopes:
        claims.update(
            {
                k: v
                for k, v in {
                    "name": subject.display_name,
                    "given_name": subject.given_name,
                    "family_name": subject.family_name,
                    "preferred_username": subject.user_name,
                }.items()
                if v
            }
        )
    return claims

"""The claims koppel's tokens carry (issue 5 §1; DESIGN.md "SSO broker"): the host-app contract."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from koppel.directory.models import DirectoryUser
from koppel.organizations.models import Organization
from koppel.sso.models import SsoSession


def user_claims(*, session: Session, sso_session: SsoSession, scope: str) -> dict[str, Any]:
    """OIDC Core §5.1 standard claims plus koppel's ``org``, ``roles``, ``groups``, ``idp``, ``amr``."""
    user = session.get_one(DirectoryUser, sso_session.user_id)
    org = session.get_one(Organization, sso_session.org_id)
    scopes = set(scope.split())
    claims: dict[str, Any] = {
        "sub": user.id,
        "org": {"id": org.id, "slug": org.slug, "name": org.name},
        "roles": list(sso_session.roles),
        "groups": list(sso_session.groups),
        "idp": sso_session.idp,
        "amr": list(sso_session.amr),
        "auth_time": int(sso_session.auth_time.timestamp()),
        "sid": sso_session.id,
    }
    if "email" in scopes and user.email:
        claims["email"] = user.email
        claims["email_verified"] = True  # the organization's IdP vouched for it (access policy §5)
    if "profile" in scopes:
        claims.update(
            {
                k: v
                for k, v in {
                    "name": user.display_name,
                    "given_name": user.given_name,
                    "family_name": user.family_name,
                    "preferred_username": user.user_name,
                }.items()
                if v
            }
        )
    return claims

"""Application registrations, service principals, Teams members and B2B invitations as Graph shows them.

``/applications`` and ``/servicePrincipals`` are there so a client can read its secrets' ``endDateTime``
(issue 3 §3); secret values are never shown, only their ``hint`` (first three characters), as in Graph.
Teams members follow spec §8.6, invitations §8.7.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from entra_simulator.errors import GraphError
from entra_simulator.graph_permissions import permission_id
from entra_simulator.model import AppRegistration, Group, ServicePrincipal, Tenant, User
from entra_simulator.seed import guest_upn
from entra_simulator.store import Directory


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def application(app: AppRegistration) -> dict[str, Any]:
    created = app.created or None
    required: dict[str, list[dict[str, str]]] = {}
    for perm in app.required:
        pid = permission_id(perm.resource, perm.value, perm.kind) or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{perm.resource}/{perm.kind}/{perm.value}")
        )
        required.setdefault(perm.resource, []).append({"id": pid, "type": perm.kind})
    return {
        "id": app.id,
        "deletedDateTime": None,
        "appId": app.app_id,
        "createdDateTime": created,
        "displayName": app.display_name,
        "groupMembershipClaims": app.group_membership_claims,
        "identifierUris": list(app.identifier_uris),
        "isFallbackPublicClient": app.public_client or None,
        "publisherDomain": None,
        "signInAudience": app.sign_in_audience,
        "api": {
            "requestedAccessTokenVersion": app.access_token_version,
            "oauth2PermissionScopes": [
                {
                    "adminConsentDisplayName": s.admin_consent_display_name,
                    "id": s.id,
                    "isEnabled": True,
                    "type": "User",
                    "value": s.value,
                }
                for s in app.scopes
            ],
        },
        "appRoles": [
            {
                "allowedMemberTypes": r.allowed_member_types,
                "displayName": r.display_name,
                "id": r.id,
                "isEnabled": True,
                "value": r.value,
            }
            for r in app.app_roles
        ],
        "keyCredentials": [
            {
                "customKeyIdentifier": c.sha1.hex().upper(),
                "displayName": None,
                "endDateTime": _time(c.end),
                "key": None,
                "keyId": c.key_id,
                "startDateTime": None,
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
            }
            for c in app.certificates
        ],
        "optionalClaims": app.optional_claims or None,
        "passwordCredentials": [
            {
                "customKeyIdentifier": None,
                "displayName": s.display_name or None,
                "endDateTime": _time(s.end),
                "hint": s.hint,
                "keyId": s.key_id,
                "secretText": None,
                "startDateTime": _time(min(s.end, datetime.now(UTC)) - timedelta(days=1)),
            }
            for s in app.secrets
        ],
        "publicClient": {"redirectUris": list(app.redirect_uris) if app.public_client else []},
        "requiredResourceAccess": [{"resourceAppId": r, "resourceAccess": a} for r, a in required.items()],
        "web": {
            "logoutUrl": app.logout_url,
            "redirectUris": [] if app.public_client else list(app.redirect_uris),
            "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
        },
    }


def service_principal(directory: Directory, tenant: Tenant, sp: ServicePrincipal) -> dict[str, Any]:
    app = directory.apps.get(sp.app_id)
    return {
        "id": sp.id,
        "deletedDateTime": None,
        "accountEnabled": True,
        "appDisplayName": sp.display_name,
        "appId": sp.app_id,
        "appOwnerOrganizationId": app.tenant_id if app else None,
        "appRoleAssignmentRequired": False,
        "displayName": sp.display_name,
        "servicePrincipalNames": [sp.app_id, *(app.identifier_uris if app else [])],
        "servicePrincipalType": "Application",
        "signInAudience": app.sign_in_audience if app else "AzureADMultipleOrgs",
        "tags": [],
        "appRoles": application(app)["appRoles"] if app else [],
        "oauth2PermissionScopes": application(app)["api"]["oauth2PermissionScopes"] if app else [],
        "keyCredentials": [],
        "passwordCredentials": [],
        "replyUrls": list(app.redirect_uris) if app else [],
    }


def is_team(group: Group) -> bool:
    """Microsoft 365 groups carry Teams here; ``resourceProvisioningOptions: [Team]`` marks them in Graph."""
    return "Unified" in (group.props.get("groupTypes") or []) or "Team" in (
        group.props.get("resourceProvisioningOptions") or []
    )


def team_member(tenant: Tenant, group: Group, user: User) -> dict[str, Any]:
    """A conversationMember (spec §8.6); the id is opaque (base64 of ``teamId##userId`` in the samples)."""
    roles = ["owner"] if user.id in group.owners else (["guest"] if user.is_guest else [])
    return {
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "id": base64.b64encode(f"{group.id}##{user.id}".encode()).decode(),
        "roles": roles,
        "displayName": user.props.get("displayName"),
        "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
        "userId": user.id,
        "email": user.props.get("mail") or user.upn,
        "tenantId": tenant.id,
    }


def invite(directory: Directory, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /invitations`` (spec §8.7): creates the guest at once, ``PendingAcceptance`` until redeemed."""
    email = body.get("invitedUserEmailAddress")
    redirect = body.get("inviteRedirectUrl")
    if not isinstance(email, str) or "@" not in email:
        raise GraphError(400, "BadRequest", "The invited user email address is invalid. Provide a valid email address.")
    if not isinstance(redirect, str) or not redirect:
        raise GraphError(400, "BadRequest", "The invite redirect URL is required. Provide inviteRedirectUrl.")
    user_type = body.get("invitedUserType") or "Guest"
    existing = next((u for u in tenant.users.values() if (u.props.get("mail") or "").lower() == email.lower()), None)
    if existing is None:
        from entra_simulator.seed import make_user

        spec = {
            "userType": user_type,
            "mail": email,
            "otherMails": [email],
            "displayName": body.get("invitedUserDisplayName") or email,
            "externalUserState": "PendingAcceptance",
            "externalUserStateChangeDateTime": _time(datetime.now(UTC)),
            "creationType": "Invitation",
            "showInAddressList": False,
            "userPrincipalName": guest_upn(email, tenant.initial_domain),
        }
        existing = directory.add_user(tenant, make_user(tenant, spec))
    ticket = secrets.token_urlsafe(24)
    inner = f"https://invitations.microsoft.com/redeem/?tenant={tenant.id}&user={uuid.uuid4()}&ticket={ticket}&ver=2.0"
    return {
        "id": str(uuid.uuid4()),
        "inviteRedeemUrl": f"https://login.microsoftonline.com/redeem?rd={quote(inner, safe='').lower()}",
        "invitedUserDisplayName": body.get("invitedUserDisplayName"),
        "invitedUserType": user_type,
        "invitedUserEmailAddress": email,
        "sendInvitationMessage": bool(body.get("sendInvitationMessage", False)),
        "resetRedemption": bool(body.get("resetRedemption", False)),
        "inviteRedirectUrl": redirect,
        "status": existing.props.get("externalUserState") or "PendingAcceptance",
        "invitedUserMessageInfo": body.get("invitedUserMessageInfo")
        or {"messageLanguage": None, "ccRecipients": [], "customizedMessageBody": None},
        "invitedUser": {"id": existing.id},
    }

"""The token endpoint's grants (spec §4.2, §4.3): client_credentials, authorization_code, refresh_token, OBO.

Each grant takes the parsed form and returns the JSON body of a successful response or raises
:class:`~entra_simulator.errors.AadError` with the AADSTS code of spec §4.4.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from entra_simulator.errors import AadError
from entra_simulator.jose import JoseError, split, verify
from entra_simulator.model import Tenant, User
from entra_simulator.oidc.client_auth import AuthenticatedClient
from entra_simulator.oidc.resources import ScopeRequest, parse_scopes
from entra_simulator.oidc.tokens import Issuer, app_access_token, client_info, id_token, user_access_token
from entra_simulator.state import Simulator

OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CODE_LIFETIME = 600
CODE_PREFIX = "1.A"  # what Entra's codes and refresh tokens start with
REFRESH_PREFIX = "0.A"


def invalid_grant(code: int, message: str, **extra: Any) -> AadError:
    return AadError("invalid_grant", code, message, **extra)


def unknown_grant(value: str, parameter: str, prefix: str) -> AadError:
    """A code or refresh token in the right format that is unknown, used up or someone else's gives AADSTS70000;
    one that cannot even be parsed AADSTS9002313 (both as observed from Entra)."""
    if value.startswith(prefix) and len(value) > 40:
        return invalid_grant(70000, f"The provided value for the '{parameter}' parameter is not valid.")
    return invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")


def client_credentials(sim: Simulator, iss: Issuer, client: AuthenticatedClient, form: dict[str, str]) -> dict:
    request = parse_scopes(sim.directory, form.get("scope", ""), iss.origin)
    if request.permissions != (".default",) or request.oidc:
        raise AadError(
            "invalid_scope",
            70011,
            f"The provided request must include a 'scope' input parameter. "
            f"The provided value for the input parameter 'scope' is not valid. The scope "
            f"{form.get('scope', '')} is not valid.",
        )
    sp = iss.tenant.service_principals[client.app.app_id]
    roles = [value for resource, value in sp.app_roles if resource == request.resource.app_id]
    token = app_access_token(sim, iss, client.app, request.resource, roles, client.appidacr)
    lifetime = sim.settings.app_token_lifetime
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}


def granted_scopes(sim: Simulator, tenant: Tenant, client_id: str, request: ScopeRequest, user: User) -> set[str]:
    """Delegated permissions the user (or admin for everyone) consented to, restricted to the request."""
    granted = tenant.delegated_scopes(client_id, request.resource.app_id, user.id)
    if ".default" in request.permissions:
        return granted
    return {p for p in request.permissions if p in granted}


def missing_consent(tenant: Tenant, client_id: str, request: ScopeRequest, user: User) -> set[str]:
    granted = tenant.delegated_scopes(client_id, request.resource.app_id, user.id)
    return {p for p in request.permissions if p != ".default" and p not in granted}


def user_tokens(
    sim: Simulator,
    iss: Issuer,
    client: AuthenticatedClient,
    request: ScopeRequest,
    user: User,
    *,
    nonce: str | None = None,
    want_client_info: bool = False,
) -> dict[str, Any]:
    """Access token (+ id_token with ``openid``, + refresh_token with ``offline_access``) for one user."""
    scopes = granted_scopes(sim, iss.tenant, client.app.app_id, request, user)
    lifetime = sim.settings.access_token_lifetime
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": request.scope_string(scopes),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
    }
    body["access_token"] = user_access_token(
        sim, iss, client.app, request.resource, user, sorted(scopes), client.appidacr
    )
    if "offline_access" in request.oidc:
        rt = REFRESH_PREFIX + secrets.token_urlsafe(48)
        sim.refresh_tokens[rt] = {"tenant": iss.tenant.id, "user": user.id, "client": client.app.app_id}
        body["refresh_token"] = rt
    if "openid" in request.oidc:
        body["id_token"] = id_token(sim, iss, client.app, user, nonce=nonce, scopes=request.oidc)
    if want_client_info:
        body["client_info"] = client_info(user, iss.tenant)
    return body


def _pkce_ok(challenge: str | None, method: str | None, verifier: str | None) -> bool:
    if not challenge:
        return True
    if not verifier:
        return False
    if (method or "plain") == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(challenge, verifier)


def authorization_code(sim: Simulator, iss: Issuer, client: AuthenticatedClient, form: dict[str, str]) -> dict:
    code = sim.codes.get(form.get("code", ""))
    if code is None or code["client_id"] != client.app.app_id or code["tenant"] != iss.tenant.id:
        raise unknown_grant(form.get("code", ""), "code", CODE_PREFIX)
    if code.get("used"):
        raise invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new "
            "valid code or use an existing refresh token.",
        )
    code["used"] = True
    if code["issued"] + CODE_LIFETIME < sim.clock():
        raise invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to "
            "inactivity. Send a new interactive authorization request for this user and resource.",
        )
    if form.get("redirect_uri") != code["redirect_uri"]:
        raise AadError(
            "invalid_client",
            50011,
            "The redirect URI specified in the request does not match the "
            "redirect URI (reply address) provided when requesting Authorization code.",
        )
    if not _pkce_ok(code.get("code_challenge"), code.get("code_challenge_method"), form.get("code_verifier")):
        raise invalid_grant(
            501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."
        )
    user = iss.tenant.users[code["user"]]
    request = parse_scopes(sim.directory, code["scope"], iss.origin)
    return user_tokens(
        sim, iss, client, request, user, nonce=code.get("nonce"), want_client_info=form.get("client_info") == "1"
    )


def refresh_token(sim: Simulator, iss: Issuer, client: AuthenticatedClient, form: dict[str, str]) -> dict:
    grant = sim.refresh_tokens.get(form.get("refresh_token", ""))
    if grant is None or grant["client"] != client.app.app_id or grant["tenant"] != iss.tenant.id:
        raise unknown_grant(form.get("refresh_token", ""), "refresh_token", REFRESH_PREFIX)
    user = iss.tenant.users.get(grant["user"])
    if user is None or not user.enabled:
        raise invalid_grant(50057, "The user account is disabled.")
    request = parse_scopes(sim.directory, form.get("scope", "openid profile offline_access"), iss.origin)
    return user_tokens(sim, iss, client, request, user, want_client_info=form.get("client_info") == "1")


def on_behalf_of(sim: Simulator, iss: Issuer, client: AuthenticatedClient, form: dict[str, str]) -> dict:
    """OBO (spec §4.2): the incoming token's ``aud`` must be this client; consent missing → 65001."""
    assertion = form.get("assertion", "")
    try:
        header, _, _, _ = split(assertion)
        key = sim.keys.find(header.get("kid"))
        if key is None:
            raise JoseError("unknown kid")
        claims = verify(assertion, key.private_key.public_key())
    except JoseError as exc:
        raise invalid_grant(50013, "Assertion failed signature validation.") from exc
    own_ids = {client.app.app_id, *client.app.identifier_uris}
    if claims.get("aud") not in own_ids or claims.get("tid") != iss.tenant.id:
        raise invalid_grant(50013, "Assertion audience does not match the Client app presenting the assertion.")
    if claims.get("exp", 0) < sim.clock():
        raise invalid_grant(500133, "Assertion is not within its valid time range.")
    user = iss.tenant.users.get(str(claims.get("oid")))
    if user is None or "scp" not in claims:
        raise invalid_grant(50013, "Assertion contains no user (app-only tokens cannot be exchanged).")
    request = parse_scopes(sim.directory, form.get("scope", ""), iss.origin)
    missing = missing_consent(iss.tenant, client.app.app_id, request, user)
    if missing or not granted_scopes(sim, iss.tenant, client.app.app_id, request, user):
        raise invalid_grant(
            65001,
            f"The user or administrator has not consented to use the application with ID '{client.app.app_id}' "
            f"named '{client.app.display_name}'. Send an interactive authorization request for this user and "
            "resource.",
            suberror="consent_required",
        )
    body = user_tokens(sim, iss, client, request, user)
    body.pop("id_token", None)
    return body

"""Client authentication at the token endpoint: secret (body or Basic) or certificate assertion (spec §4.1).

Errors carry the AADSTS codes of spec §4.4: 700016 unknown app, 7000215 wrong secret, 7000222 expired
secret, 7000218 no credential, 700027 assertion signature or unknown certificate, 700024 assertion times.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509

from entra_simulator.errors import AadError
from entra_simulator.jose import JoseError, b64url_decode, split, verify
from entra_simulator.model import AppRegistration, Tenant
from entra_simulator.state import Simulator

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class AuthenticatedClient:
    app: AppRegistration
    appidacr: str  # "0" public client, "1" secret, "2" certificate (spec §7.3)


def find_app(sim: Simulator, tenant: Tenant, client_id: str) -> AppRegistration:
    """The app, if it is registered in or consented into ``tenant`` (AADSTS700016 otherwise)."""
    app = sim.directory.apps.get(client_id)
    if app is None or (app.tenant_id != tenant.id and client_id not in tenant.service_principals):
        raise AadError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to the "
            "wrong tenant.",
        )
    return app


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    raw = base64.b64decode(header[6:]).decode()
    client_id, _, secret = raw.partition(":")
    return unquote(client_id), unquote(secret)


def authenticate(
    sim: Simulator,
    tenant: Tenant,
    form: dict[str, str],
    authorization: str | None,
    token_url: str,
    *,
    public_allowed: bool = False,
) -> AuthenticatedClient:
    basic = _basic(authorization)
    client_id = form.get("client_id") or (basic[0] if basic else "")
    if not client_id:
        raise AadError("invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
    app = find_app(sim, tenant, client_id)
    secret = form.get("client_secret") or (basic[1] if basic else None)
    if secret:
        _check_secret(sim, app, secret)
        return AuthenticatedClient(app, "1")
    if form.get("client_assertion"):
        _check_assertion(sim, app, form["client_assertion"], token_url)
        return AuthenticatedClient(app, "2")
    if public_allowed and app.public_client:
        return AuthenticatedClient(app, "0")
    raise AadError(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        status=401,
    )


def _check_secret(sim: Simulator, app: AppRegistration, secret: str) -> None:
    match = next((s for s in app.secrets if hmac.compare_digest(s.value.encode(), secret.encode())), None)
    if match is None:
        raise AadError(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{app.app_id}'.",
            status=401,
        )
    if match.end.timestamp() <= sim.clock():
        raise AadError(
            "invalid_client",
            7000222,
            f"The provided client secret keys for app '{app.app_id}' are expired. Visit the Azure portal to "
            f"create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
            "credentials for added security: https://aka.ms/certCreds.",
            status=401,
        )


def _thumbprint(header: dict[str, Any]) -> tuple[str, bytes] | None:
    for name in ("x5t#S256", "x5t"):
        if isinstance(header.get(name), str):
            return name, b64url_decode(header[name])
    return None


def _check_assertion(sim: Simulator, app: AppRegistration, assertion: str, token_url: str) -> None:
    try:
        header, claims, _, _ = split(assertion)
    except JoseError as exc:
        raise AadError("invalid_client", 50027, "JWT token is invalid or malformed.", status=401) from exc
    thumb = _thumbprint(header)
    cert = None
    if thumb is not None:
        cert = next((c for c in app.certificates if (c.sha256 if thumb[0] == "x5t#S256" else c.sha1) == thumb[1]), None)
    if cert is None:
        raise AadError(
            "invalid_client",
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application.",
            status=401,
        )
    public_key = x509.load_pem_x509_certificate(cert.pem.encode()).public_key()
    try:
        verify(assertion, public_key)  # type: ignore[arg-type]
    except JoseError as exc:
        raise AadError("invalid_client", 700027, "Client assertion failed signature validation.", status=401) from exc
    now = sim.clock()
    if float(claims.get("exp", 0)) < now - 300 or float(claims.get("nbf", now)) > now + 300:
        raise AadError("invalid_client", 700024, "Client assertion is not within its valid time range.", status=401)
    if claims.get("iss") != app.app_id or claims.get("sub") != app.app_id:
        raise AadError(
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
            status=401,
        )
    if urlsplit(str(claims.get("aud", ""))).path.rstrip("/") != urlsplit(token_url).path.rstrip("/") and not str(
        claims.get("aud", "")
    ).endswith("/oauth2/v2.0/token"):
        raise AadError(
            "invalid_client", 700025, "Client assertion audience claim does not match Realm issuer.", status=401
        )

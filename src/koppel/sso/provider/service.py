"""OP functions outside Authlib's grants: resuming authorization, userinfo, end-session, metadata."""

from __future__ import annotations

import secrets
from typing import Any

from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidClientError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from koppel.errors import InvalidInput, Unauthorized
from koppel.security.tokens import hash_token
from koppel.sso import keys
from koppel.sso.models import RefreshToken, SsoSession
from koppel.sso.provider.claims import user_claims
from koppel.sso.provider.context import ID_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, SCOPES_SUPPORTED, ProviderContext
from koppel.sso.provider.server import PlainRequest, ProviderServer, active_session, revoke_session_tokens

CLAIMS_SUPPORTED = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "sid",
    "org",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "roles",
    "groups",
    "idp",
)


def metadata(issuer: str) -> dict[str, Any]:
    """OIDC Discovery 1.0 §3."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "jwks_uri": f"{issuer}/oauth2/jwks",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.ALGORITHMS),
        "scopes_supported": list(SCOPES_SUPPORTED),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
    }


def validate_authorization(ctx: ProviderContext, *, uri: str, params: dict[str, str], headers: Any) -> str:
    """Check the host app's authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) once, at
    ``/oauth2/authorize``; returns the validated redirect URI. Raises Authlib's ``OAuth2Error``."""
    grant = ProviderServer(ctx).get_consent_grant(PlainRequest("GET", uri, params, headers))
    redirect_uri: str = grant.redirect_uri
    return redirect_uri


def issue_code(ctx: ProviderContext, *, resumed: dict[str, Any], sso_session: SsoSession) -> str:
    """The redirect that finishes the (already validated) authorization request: code and state
    (RFC 6749 §4.1.2) for the signed-in user. Raises Authlib's ``OAuth2Error`` when the client or
    its redirect URI was removed since."""
    server = ProviderServer(ctx)
    request = PlainRequest("GET", resumed["uri"], resumed["params"], {})
    redirect_uri = resumed.get("redirect_uri")
    if redirect_uri is None:  # a login started before this koppel version: validate it here
        grant = server.get_consent_grant(request, end_user=sso_session)
        redirect_uri = grant.redirect_uri
    else:
        grant = server.get_authorization_grant(request)
        client = server.query_client(request.payload.client_id)
        if client is None or not client.check_redirect_uri(redirect_uri):
            raise InvalidClientError(description="the app is no longer registered with this redirect URI")
        request.client = client
    _status, _body, headers = grant.create_authorization_response(redirect_uri, sso_session)
    return str(dict(headers)["Location"])


def deny(*, resumed: dict[str, Any], description: str) -> str | None:
    """RFC 6749 §4.1.2.1 ``access_denied`` back to the app's validated redirect URI (None if unknown)."""
    redirect_uri = resumed.get("redirect_uri")
    if not redirect_uri:
        return None
    error = AccessDeniedError(description=description, redirect_uri=redirect_uri, state=resumed["params"].get("state"))
    _status, _body, headers = error()
    return str(dict(headers)["Location"])


def _our_keys(session: Session) -> KeySet:
    return KeySet.import_key_set({"keys": keys.public_keys(session=session)})


def _decode(ctx: ProviderContext, token: str) -> dict[str, Any]:
    try:
        claims = dict(jwt.decode(token, _our_keys(ctx.session), algorithms=list(keys.ALGORITHMS)).claims)
    except (JoseError, ValueError) as exc:
        raise Unauthorized("the token is not one koppel issued (signature check failed)") from exc
    if claims.get("iss") != ctx.issuer:
        raise Unauthorized("the token was issued by another issuer")
    return claims


def userinfo(ctx: ProviderContext, *, access_token: str) -> dict[str, Any]:
    """OIDC Core §5.3, for a live session of an active user."""
    claims = _decode(ctx, access_token)
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= ctx.epoch:
        raise Unauthorized("the access token has expired; refresh it")
    sso_session = ctx.session.get(SsoSession, str(claims.get("sid")))
    if sso_session is None:
        raise Unauthorized("the access token's session no longer exists")
    try:
        active_session(ctx, sso_session)
    except Exception as exc:  # Authlib's InvalidGrantError: same meaning here, other wire form
        raise Unauthorized(getattr(exc, "description", None) or "the session has ended") from exc
    return user_claims(session=ctx.session, sso_session=sso_session, scope=str(claims.get("scope", "")))


def end_session(
    ctx: ProviderContext, *, id_token_hint: str | None, client_id: str | None, post_logout_redirect_uri: str | None
) -> str | None:
    """RP-Initiated Logout 1.0 §2-§3: end the session named by the hint; redirect only to a registered URI."""
    hint = _decode(ctx, id_token_hint) if id_token_hint else {}  # an expired hint is still a fine hint
    client_id = client_id or (hint.get("aud") if isinstance(hint.get("aud"), str) else None)
    if post_logout_redirect_uri:
        client = ctx.client(client_id or "")
        if client is None or post_logout_redirect_uri not in client.post_logout_redirect_uris:
            raise InvalidInput(
                "post_logout_redirect_uri is not registered for this client "
                "(koppel client create --post-logout-uri ...)",
                field="post_logout_redirect_uri",
            )
    sso_session = ctx.session.get(SsoSession, str(hint["sid"])) if hint.get("sid") else None
    if sso_session is not None and sso_session.ended_at is None:
        sso_session.ended_at = ctx.now
        revoke_session_tokens(ctx, sso_session.id)
    return post_logout_redirect_uri


def issue_tokens(ctx: ProviderContext, *, client_id: str, sso_session: SsoSession, scope: str) -> dict[str, Any]:
    """Tokens for a session that began outside the authorize endpoint (the token exchange, §6)."""
    server = ProviderServer(ctx)
    lifetime = int(ID_TOKEN_LIFETIME.total_seconds())
    claims = {
        **user_claims(session=ctx.session, sso_session=sso_session, scope=scope),
        "iss": ctx.issuer,
        "aud": client_id,
        "iat": ctx.epoch,
        "exp": ctx.epoch + lifetime,
    }
    client = ctx.client(client_id)
    alg = client.id_token_signed_response_alg if client else keys.ALGORITHM
    kid, key = ctx.signing_key(alg)
    refresh = secrets.token_urlsafe(32)
    ctx.session.add(
        RefreshToken(
            token_hash=hash_token(refresh),
            client_id=client_id,
            session_id=sso_session.id,
            scope=scope,
            expires_at=min(ctx.now + REFRESH_TOKEN_LIFETIME, sso_session.expires_at),
        )
    )
    return {
        "token_type": "Bearer",
        "access_token": server.access_token(client_id=client_id, sso_session=sso_session, scope=scope, alg=alg),
        "id_token": jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, claims, key, algorithms=[alg]),
        "refresh_token": refresh,
        "expires_in": lifetime,
        "scope": scope,
    }

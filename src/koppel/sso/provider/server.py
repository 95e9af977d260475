"""koppel's OpenID Provider on Authlib's authorization server: code (+PKCE) and refresh grants.

Authlib does the protocol (RFC 6749 §4.1, §6; RFC 7636; OIDC Core §3.1); this module only
stores and loads koppel's rows for it. Built per request around a ``ProviderContext`` so the
database transaction and the injected clock reach every hook.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from joserfc import jwt
from sqlalchemy import bindparam, select, update

from koppel.db.direct import Direct
from koppel.directory.models import DirectoryUser
from koppel.organizations.models import Organization
from koppel.security.tokens import hash_token
from koppel.sso import keys
from koppel.sso.models import AuthorizationCode, RefreshToken, SsoSession
from koppel.sso.provider.claims import SUBJECT_COLUMNS, subject_from, user_claims
from koppel.sso.provider.context import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    ID_TOKEN_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    SCOPES_SUPPORTED,
    ProviderContext,
)
from koppel.sso.provider.models import CODE_COLUMNS, ClientAdapter, CodeAdapter, CodeRow, RefreshAdapter
from koppel.sso.rows import columns, insert_values, transient

Response = tuple[int, Any, list[tuple[str, str]]]


class PlainRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request from already-parsed parameters (query or form) and headers."""

    def __init__(self, method: str, uri: str, data: Mapping[str, str], headers: Mapping[str, str]) -> None:
        # TLS ends at koppel's proxy in production; Authlib's transport check would see the
        # proxy's plain hop, so it is given the public URL's https form (transport is ops' job).
        super().__init__(method, "https://" + uri.split("://", 1)[-1], headers=headers)
        self.payload = BasicOAuth2Payload(dict(data))

    @property
    def args(self) -> dict[str, str]:
        return dict(self.payload.data)

    @property
    def form(self) -> dict[str, str]:
        return dict(self.payload.data)


class ProviderServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, ctx: ProviderContext) -> None:
        super().__init__(scopes_supported=list(SCOPES_SUPPORTED))
        self.ctx = ctx
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [CodeChallenge(required=False), KoppelOpenIDCode(ctx)])
        self.register_grant(RotatingRefreshGrant)

    def query_client(self, client_id: str) -> ClientAdapter | None:
        row = self.ctx.client(client_id or "")
        return ClientAdapter(row) if row else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        if "refresh_token" in token:
            insert_values(
                self.ctx.session,
                RefreshToken,
                {
                    "token_hash": hash_token(token["refresh_token"]),
                    "client_id": request.client.get_client_id(),
                    "session_id": request.user.id,
                    "scope": token.get("scope", ""),
                    "expires_at": min(self.ctx.now + REFRESH_TOKEN_LIFETIME, request.user.expires_at),
                },
            )

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # routes build a PlainRequest already

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def _generate_token(
        self, grant_type: str, client: ClientAdapter, user: SsoSession, scope: str, **kw: Any
    ) -> dict[str, Any]:
        token = {
            "token_type": "Bearer",
            "access_token": self.access_token(
                client_id=client.get_client_id(), sso_session=user, scope=scope, alg=client.signing_alg
            ),
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "scope": scope,
        }
        if kw.get("include_refresh_token") and "offline_access" in scope.split():
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def access_token(self, *, client_id: str, sso_session: SsoSession, scope: str, alg: str = keys.ALGORITHM) -> str:
        """RFC 9068 JWT access token: the userinfo endpoint and the host app's API can verify it.
        Signed with the client's algorithm: its audience is that client (``aud``), whose stack
        verifies that algorithm already for its ID tokens (RFC 9068 §2.1 leaves the choice open)."""
        kid, key = self.ctx.signing_key(alg)
        claims = {
            "iss": self.ctx.issuer,
            "sub": sso_session.user_id,
            "aud": client_id,
            "client_id": client_id,
            "scope": scope,
            "sid": sso_session.id,
            "org_id": sso_session.org_id,
            "roles": list(sso_session.roles),
            "iat": self.ctx.epoch,
            "exp": self.ctx.epoch + int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode({"alg": alg, "kid": kid, "typ": "at+jwt"}, claims, key, algorithms=[alg])


# Built once, on the driver's cursor (every login redeems a code): the code with its session and
# the claims' columns, and its conditional use.
_CODE_WITH_SUBJECT = Direct(
    select(*CODE_COLUMNS, *columns(SsoSession), *SUBJECT_COLUMNS)
    .join(SsoSession, SsoSession.id == AuthorizationCode.session_id)
    .join(DirectoryUser, DirectoryUser.id == SsoSession.user_id)
    .join(Organization, Organization.id == SsoSession.org_id)
    .where(AuthorizationCode.code_hash == bindparam("code_hash"))
)
_USE_CODE = Direct(
    update(AuthorizationCode.__table__)  # type: ignore[arg-type]
    .where(AuthorizationCode.code_hash == bindparam("b_code_hash"), AuthorizationCode.used_at.is_(None))
    .values(used_at=bindparam("b_now"))
)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def ctx(self) -> ProviderContext:
        ctx: ProviderContext = self.server.ctx
        return ctx

    def generate_authorization_code(self) -> str:
        # Authlib's generator draws its 48 characters one system call at a time; same strength.
        return secrets.token_urlsafe(36)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        insert_values(
            self.ctx.session,
            AuthorizationCode,
            {
                "code_hash": hash_token(code),
                "client_id": request.client.get_client_id(),
                "session_id": request.user.id,
                "redirect_uri": data.get("redirect_uri") or request.client.get_default_redirect_uri(),
                "scope": request.client.get_allowed_scope(data.get("scope", "")),
                "nonce": data.get("nonce"),
                "code_challenge": data.get("code_challenge"),
                "code_challenge_method": data.get("code_challenge_method"),
                "expires_at": self.ctx.now + CODE_LIFETIME,
            },
        )

    def query_authorization_code(self, code: str, client: ClientAdapter) -> CodeAdapter | None:
        # One round trip: the code with its session, and the user's and organization's columns
        # that the active-user check and the ID token's claims need (kept on the context).
        rows = _CODE_WITH_SUBJECT.rows(self.ctx.session.connection(), {"code_hash": hash_token(code)})
        if not rows:
            return None
        row = CodeRow(*rows[0][: len(CODE_COLUMNS)])
        sso_session = transient(SsoSession, rows[0], len(CODE_COLUMNS))
        self.ctx.subject = subject_from(rows[0])
        if row.client_id != client.get_client_id() or row.expires_at <= self.ctx.now:
            return None
        if row.used_at is not None:
            # RFC 6749 §4.1.2: a reused code revokes what it issued.
            revoke_session_tokens(self.ctx, row.session_id)
            return None
        return CodeAdapter(row, sso_session)

    def delete_authorization_code(self, authorization_code: CodeAdapter) -> None:
        # Conditional, so two concurrent redemptions of one code cannot both succeed.
        used = _USE_CODE.run(
            self.ctx.session.connection(), {"b_code_hash": authorization_code.row.code_hash, "b_now": self.ctx.now}
        )
        if used != 1:
            revoke_session_tokens(self.ctx, authorization_code.row.session_id)
            raise InvalidGrantError(description="the authorization code was already used")

    def authenticate_user(self, authorization_code: CodeAdapter) -> SsoSession:
        return active_session(self.ctx, authorization_code.sso_session)


class RotatingRefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    """RFC 9700 §4.14.2: every refresh returns a new token and revokes the presented one."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    @property
    def ctx(self) -> ProviderContext:
        ctx: ProviderContext = self.server.ctx
        return ctx

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshAdapter | None:
        row = self.ctx.session.get(RefreshToken, hash_token(refresh_token))
        if row is None or row.expires_at <= self.ctx.now:
            return None
        if row.revoked_at is not None:
            revoke_session_tokens(self.ctx, row.session_id)  # replay of a rotated token
            return None
        return RefreshAdapter(row)

    def authenticate_user(self, refresh_token: RefreshAdapter) -> SsoSession:
        return active_session(self.ctx, self.ctx.session.get_one(SsoSession, refresh_token.row.session_id))

    def revoke_old_credential(self, refresh_token: RefreshAdapter) -> None:
        refresh_token.row.revoked_at = self.ctx.now


class KoppelOpenIDCode(OpenIDCode):  # type: ignore[misc]
    def __init__(self, ctx: ProviderContext) -> None:
        super().__init__(require_nonce=False)
        self.ctx = ctx

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        # The nonce protects the host app (it compares the ID token's nonce with its own, OIDC Core
        # §3.1.3.7 (11)); an OP-side uniqueness check would scan every stored code on each request.
        return False

    def resolve_client_private_key(self, client: ClientAdapter) -> Any:
        return self.ctx.signing_key(client.signing_alg)[1]

    def get_client_algorithm(self, client: ClientAdapter) -> str:
        return client.signing_alg  # OIDC Registration §2 id_token_signed_response_alg

    def get_encode_header(self, client: ClientAdapter) -> dict[str, str]:
        kid, _ = self.ctx.signing_key(client.signing_alg)
        return {"alg": client.signing_alg, "kid": kid, "typ": "JWT"}

    def get_client_claims(self, client: ClientAdapter) -> dict[str, Any]:
        lifetime = int(ID_TOKEN_LIFETIME.total_seconds())
        return {
            "iss": self.ctx.issuer,
            "aud": client.get_client_id(),
            "iat": self.ctx.epoch,
            "exp": self.ctx.epoch + lifetime,
        }

    def generate_user_info(self, user: SsoSession, scope: str) -> dict[str, Any]:
        return user_claims(session=self.ctx.session, sso_session=user, scope=scope, subject=self.ctx.subject)


def active_session(ctx: ProviderContext, sso_session: SsoSession) -> SsoSession:
    """Issue 5 §5: a deactivated user gets no tokens, whatever they hold."""
    subject = ctx.subject if ctx.subject and ctx.subject.user_id == sso_session.user_id else None
    status = (
        subject.status
        if subject
        else ctx.session.scalar(select(DirectoryUser.status).where(DirectoryUser.id == sso_session.user_id))
    )
    if status != "active":
        raise InvalidGrantError(description="the user is deactivated in the organization's directory")
    if sso_session.ended_at is not None or sso_session.expires_at <= ctx.now:
        raise InvalidGrantError(description="the sign-in session has ended; sign in again")
    return sso_session


def revoke_session_tokens(ctx: ProviderContext, session_id: str) -> None:
    ctx.session.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == session_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=ctx.now)
    )

"""Adapters that give koppel's rows the interfaces Authlib's grants call (``ClientMixin`` & co)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oidc.core import AuthorizationCodeMixin

from koppel.security.tokens import token_matches
from koppel.sso import keys
from koppel.sso.models import AuthorizationCode, RefreshToken, SsoClient, SsoSession
from koppel.sso.provider.context import SCOPES_SUPPORTED

GRANT_TYPES = ("authorization_code", "refresh_token")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass
class ClientAdapter(ClientMixin):  # type: ignore[misc]
    row: SsoClient

    def get_client_id(self) -> str:
        return self.row.client_id

    @property
    def signing_alg(self) -> str:
        """Its tokens' signature algorithm (OIDC Registration §2 ``id_token_signed_response_alg``)."""
        return self.row.id_token_signed_response_alg or keys.ALGORITHM

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 §3.1.2.3: only an unambiguous single registration may be implied.
        return self.row.redirect_uris[0] if len(self.row.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES_SUPPORTED)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact string match (RFC 9700 §4.1.3)

    def check_client_secret(self, client_secret: str) -> bool:
        return token_matches(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


@dataclass(frozen=True, slots=True)
class CodeRow:
    """An ``AuthorizationCode`` row as read at the token endpoint: plain values, no ORM object."""

    code_hash: str
    client_id: str
    session_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime
    used_at: datetime | None


CODE_COLUMNS = tuple(getattr(AuthorizationCode, f.name) for f in fields(CodeRow))  # in CodeRow's order


@dataclass
class CodeAdapter(AuthorizationCodeMixin):  # type: ignore[misc]
    row: CodeRow
    sso_session: SsoSession

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.sso_session.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return list(self.sso_session.amr)

    # RFC 7636 (authlib.oauth2.rfc7636.CodeChallenge reads these through the grant)
    @property
    def code_challenge(self) -> str | None:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.row.code_challenge_method


@dataclass
class RefreshAdapter:
    """``TokenMixin`` subset the refresh grant calls."""

    row: RefreshToken

    def check_client(self, client: Any) -> bool:
        return bool(self.row.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.row.scope

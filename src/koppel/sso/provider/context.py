"""What one OP request works with: the transaction, the clock, the keys and the issuer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session

from koppel.security.crypto import SecretBox
from koppel.sso import keys

CODE_LIFETIME = timedelta(minutes=5)  # RFC 6749 §4.1.2: short, at most 10 minutes
ACCESS_TOKEN_LIFETIME = timedelta(minutes=60)
ID_TOKEN_LIFETIME = timedelta(minutes=60)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
SCOPES_SUPPORTED = ("openid", "profile", "email", "offline_access", "roles", "groups")


@dataclass
class ProviderContext:
    session: Session
    secret_box: SecretBox
    issuer: str
    now: datetime
    _key: tuple[str, RSAKey] | None = field(default=None, repr=False)

    def signing_key(self) -> tuple[str, RSAKey]:
        """(kid, key) of the current signing key, read once per request."""
        if self._key is None:
            self._key = keys.current_key(session=self.session, secret_box=self.secret_box, now=self.now)
        return self._key

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())

"""What one OP request works with: the transaction, the clock, the keys and the issuer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from koppel.security.crypto import SecretBox
from koppel.sso import clients, keys
from koppel.sso.cache import SsoCache
from koppel.sso.keys import PrivateKey
from koppel.sso.models import SsoClient
from koppel.sso.provider.claims import ClaimSubject

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
    cache: SsoCache | None = None  # the app's; without one (scripts, service tests) every read is fresh
    subject: ClaimSubject | None = None  # the token's user and organization, once read in this request
    _keys: dict[str, tuple[str, PrivateKey]] = field(default_factory=dict, repr=False)

    def signing_key(self, alg: str = keys.ALGORITHM) -> tuple[str, PrivateKey]:
        """(kid, key) of the current signing key of ``alg``, read once per request (or per cache period)."""
        key = self._keys.get(alg)
        if key is None:

            def load() -> tuple[str, PrivateKey]:
                return keys.current_key(session=self.session, secret_box=self.secret_box, now=self.now, alg=alg)

            key = self._keys[alg] = self.cache.signing_key(alg, load) if self.cache else load()
        return key

    def client(self, client_id: str) -> SsoClient | None:
        def load() -> SsoClient | None:
            return clients.find_client(session=self.session, client_id=client_id)

        return self.cache.client(client_id, load) if self.cache and client_id else load()

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())

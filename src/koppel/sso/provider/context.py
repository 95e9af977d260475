"""What one OP request works with: the transaction, the clock, the keys and the issuer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from koppel.security.crypto import SecretBox

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

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())

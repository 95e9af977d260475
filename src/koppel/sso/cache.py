"""Per-process cache of what every login reads and rarely changes: host-app clients, the signing key,
and a connection's login settings.

One cache per app (``app.state``), so test apps never share it. Entries live ``TTL`` seconds: a
change (``koppel client ...``, ``koppel client rotate-signing-key``) is seen within that time, a new
client at once (unknown ids are not cached). A retired key stays in the JWKS
(``keys.SERVED_RETIRED_KEYS``), so tokens signed with it during the TTL still verify.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from koppel.sso.keys import PrivateKey
from koppel.sso.models import SsoClient

T = TypeVar("T")
CLIENT_TTL_SECONDS = 30.0
KEY_TTL_SECONDS = 60.0
# A connection's login settings (endpoints, decrypted credentials): the authorization request
# checks the row's version (``updated_at``) each time; the callback of that login uses them as they are.
UPSTREAM_TTL_SECONDS = 30.0


@dataclass
class _Entry:
    value: Any
    expires: float
    version: object = None


@dataclass
class SsoCache:
    client_ttl: float = CLIENT_TTL_SECONDS
    key_ttl: float = KEY_TTL_SECONDS
    upstream_ttl: float = UPSTREAM_TTL_SECONDS
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, client_id: str, load: Callable[[], SsoClient | None]) -> SsoClient | None:
        """A detached copy of the client row (shared read-only by all threads); unknown ids are not cached."""

        def snapshot() -> SsoClient | None:
            row = load()
            return _detached(row) if row is not None else None

        return self._get(f"client:{client_id}", self.client_ttl, snapshot)

    def signing_key(self, alg: str, load: Callable[[], tuple[str, PrivateKey]]) -> tuple[str, PrivateKey]:
        key = self._get(f"signing_key:{alg}", self.key_ttl, load)
        assert key is not None  # load() always returns a key (it creates one on first use)
        return key

    def upstream(self, connection_id: str, load: Callable[[], T], version: object = None) -> T:
        """Given the row's ``version``, an entry of another version is loaded again at once."""
        value = self._get(f"upstream:{connection_id}", self.upstream_ttl, load, version)
        assert value is not None
        return value

    def _get(self, key: str, ttl: float, load: Callable[[], T | None], version: object = None) -> T | None:
        entry = self._entries.get(key)
        now = self.clock()
        if entry is not None and entry.expires > now and (version is None or entry.version == version):
            value: T = entry.value
            return value
        loaded = load()
        if loaded is not None:
            with self._lock:
                self._entries[key] = _Entry(loaded, now + ttl, version)
        return loaded


def _detached(row: SsoClient) -> SsoClient:
    return SsoClient(
        id=row.id,
        client_id=row.client_id,
        secret_hash=row.secret_hash,
        name=row.name,
        redirect_uris=list(row.redirect_uris),
        post_logout_redirect_uris=list(row.post_logout_redirect_uris),
        initiate_login_uri=row.initiate_login_uri,
        id_token_signed_response_alg=row.id_token_signed_response_alg,
        created_at=row.created_at,
    )

"""Removing what the SSO broker no longer needs: expired codes, login transactions, tokens and sessions.

Kept for ``GRACE`` after they expire (a late replay is still recognised as a replay, and an admin
can still see a failed login's row); refresh tokens are kept until they expire even when revoked,
so a replayed rotated token still revokes its session's tokens (RFC 9700 §4.14.2). Deleted in
batches, each its own short transaction, so a large backlog never holds the database lock long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from koppel.sso.models import AuthorizationCode, LoginTransaction, RefreshToken, SsoSession

GRACE = timedelta(hours=1)
BATCH = 1000


def _expired(now: datetime) -> Iterator[tuple[str, Any, Any]]:
    """(name, primary-key column, condition) of each kind of expired row."""
    cutoff = now - GRACE
    yield "authorization_codes", AuthorizationCode.code_hash, AuthorizationCode.expires_at < cutoff
    yield "login_transactions", LoginTransaction.state_hash, LoginTransaction.expires_at < cutoff
    yield "refresh_tokens", RefreshToken.token_hash, RefreshToken.expires_at < now
    # A session outlives its tokens (their expiry is capped by the session's); its codes and
    # tokens go with it (ON DELETE CASCADE).
    yield "sessions", SsoSession.id, SsoSession.expires_at < cutoff


def purge_expired(*, transaction: Callable[[], AbstractContextManager[Session]], now: datetime) -> dict[str, int]:
    """Delete expired rows; returns how many of each kind."""
    removed: dict[str, int] = {}
    for name, key, condition in _expired(now):
        removed[name] = 0
        while True:
            with transaction() as session:
                batch = select(key).where(condition).limit(BATCH)
                result = session.execute(delete(key.class_).where(key.in_(batch)))
            count = int(getattr(result, "rowcount", 0) or 0)
            removed[name] += count
            if count < BATCH:
                break
    return removed

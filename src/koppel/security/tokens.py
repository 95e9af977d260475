"""Opaque bearer tokens (API keys, SCIM tokens, client secrets): generated, hashed, compared.

High-entropy random tokens need no slow KDF: SHA-256 of 256 random bits is not brute-forceable,
and a fast hash keeps every authenticated request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def generate_token(prefix: str) -> str:
    """A new token like ``kp_live_3J...``; the prefix tells a leaked token's kind at a glance."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

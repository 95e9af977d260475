"""Webhook signatures, on plain data (no web framework, no ORM).

Scheme (the one Stripe and Standard Webhooks use): the sender computes
``HMAC-SHA256(secret, f"{t}.{body}")`` (RFC 2104 HMAC with SHA-256, FIPS 180-4) over the exact
body bytes and a Unix timestamp ``t``, and sends ``Koppel-Signature: t=<t>,v1=<hex digest>``.
The timestamp is signed so a captured request cannot be replayed later than ``tolerance``.
``docs/webhooks.md`` gives receivers the same check as a dependency-free snippet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Koppel-Signature"
EVENT_ID_HEADER = "Koppel-Event-Id"
EVENT_TYPE_HEADER = "Koppel-Event-Type"
ATTEMPT_HEADER = "Koppel-Delivery-Attempt"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300


class InvalidSignature(ValueError):
    """The header is malformed, too old, or no ``v1`` signature matches the body."""


def new_secret() -> str:
    """A fresh signing secret: 256 random bits, recognisable by its prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The ``Koppel-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={digest(secret, body, timestamp)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """``t=...,v1=...[,v1=...]`` → (timestamp, v1 signatures); several v1 ease secret rotation."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature(f"{SIGNATURE_HEADER} must look like t=<unix time>,v1=<hex>")
    return timestamp, signatures


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = DEFAULT_TOLERANCE) -> int:
    """Check a delivery; returns its timestamp or raises ``InvalidSignature``."""
    timestamp, signatures = parse_header(header)
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(f"the signature timestamp is more than {tolerance} s from now")
    expected = digest(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise InvalidSignature("no v1 signature matches the body and the endpoint's secret")
    return timestamp

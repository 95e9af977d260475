"""Token-signing keys: RS256 with a self-signed certificate each, published as JWKS (spec §2.4, §7.1).

``kid`` equals ``x5t``, the base64url SHA-1 thumbprint of the certificate (27 characters, no padding). At
least two keys are published; :meth:`KeySet.rotate` makes a new key the signing key and keeps the previous one
published, so clients that re-fetch keys on an unknown ``kid`` keep working.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from entra_simulator.jose import b64url_encode


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    cert_der: bytes

    def jwk(self, issuer: str) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url_encode(n),
            "e": b64url_encode(e),
            "x5c": [base64.b64encode(self.cert_der).decode("ascii")],
            "issuer": issuer,
        }


def new_signing_key(key_size: int = 2048) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.windows.net")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 5))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    kid = b64url_encode(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - x5t is SHA-1 by definition
    return SigningKey(kid=kid, private_key=key, cert_der=der)


class KeySet:
    """The published keys; the first one signs. Thread-safe rotation."""

    def __init__(self, count: int = 2) -> None:
        self._lock = threading.Lock()
        self._keys = [new_signing_key() for _ in range(count)]

    @property
    def current(self) -> SigningKey:
        return self._keys[0]

    def find(self, kid: str | None) -> SigningKey | None:
        return next((k for k in self._keys if k.kid == kid), None)

    def rotate(self) -> SigningKey:
        """New signing key first; the previous signing key stays published, the oldest is dropped."""
        fresh = new_signing_key()
        with self._lock:
            self._keys = [fresh, *self._keys[:1]]
        return fresh

    def jwks(self, issuer: str) -> dict[str, Any]:
        return {"keys": [k.jwk(issuer) for k in self._keys]}

"""Minimal JWS (RS256 / PS256) for the simulator's tokens and for client assertions.

Spec §4.1 (what MSAL and azure-identity send: RS256 or PS256, ``x5t`` or ``x5t#S256``, padded or unpadded
base64url, float times) and §7.1 (RS256 with ``kid``). Written here on purpose: the simulator must not share
protocol code with the system it tests.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class JoseError(ValueError):
    """A token that cannot be parsed or whose signature does not verify."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without ``=`` padding (azure-identity async pads, §4.1)."""
    text = text.strip().rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise JoseError("bad base64url") from exc


def _json_b64(obj: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def sign_rs256(claims: dict[str, Any], key: rsa.RSAPrivateKey, header: dict[str, Any]) -> str:
    """Compact JWS with ``{"typ":"JWT","alg":"RS256", **header}`` (§7.1)."""
    head = {"typ": "JWT", "alg": "RS256", **header}
    signing_input = f"{_json_b64(head)}.{_json_b64(claims)}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url_encode(signature)}"


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Return header, claims, signing input and signature without verifying anything."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError("not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JoseError("bad JSON in token") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JoseError("token parts are not objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2])


def verify(token: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """Verify an RS256 or PS256 signature and return the claims (no time or audience checks)."""
    header, claims, signing_input, signature = split(token)
    alg = header.get("alg")
    if alg == "RS256":
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    elif alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    else:
        raise JoseError(f"unsupported alg {alg!r}")
    try:
        public_key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise JoseError("signature does not verify") from exc
    return claims

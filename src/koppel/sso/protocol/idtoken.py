"""ID-token and access-token validation (OIDC Core §3.1.3.7; Entra: spec §7, "Validate the issuer").

Plain data in, claims out. The caller supplies the JWKS it holds; a token signed with a key it
lacks raises ``UnknownSigningKey`` so the caller can refetch the JWKS once (key rollover, §2.4).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.util import urlsafe_b64decode

from koppel.sso.protocol.discovery import TENANT_TEMPLATE
from koppel.sso.protocol.errors import TokenValidationError

# RFC 8725 §3.1: pin the algorithms; never take them from the token header.
PINNED_ALGORITHMS = ("RS256",)
DEFAULT_SKEW = timedelta(minutes=2)


class UnknownSigningKey(TokenValidationError):
    def __init__(self, kid: str | None) -> None:
        super().__init__("kid", f"the token is signed with key {kid!r}, which the issuer's JWKS lacks")
        self.kid = kid


@dataclass(frozen=True)
class Expectations:
    """What a token must say. ``issuer`` may hold Entra's ``{tenantid}`` template (spec §2.2)."""

    issuer: str | Collection[str]
    audience: str | Collection[str]
    nonce: str | None = None
    tenant_id: str | None = None
    check_azp: bool = True
    skew: timedelta = DEFAULT_SKEW
    algorithms: tuple[str, ...] = PINNED_ALGORITHMS


def import_jwks(jwks: Any) -> KeySet:
    """Parse a JWKS document (RFC 7517 §5); keys koppel cannot use are skipped, not fatal."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise TokenValidationError("jwks", "the issuer's jwks_uri did not return a JWK Set")
    usable = [k for k in jwks["keys"] if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("use", "sig") == "sig"]
    try:
        return KeySet.import_key_set({"keys": usable})
    except (JoseError, ValueError) as exc:
        raise TokenValidationError("jwks", f"the issuer's JWK Set is unusable: {exc}") from exc


def unverified_header(token: str) -> dict[str, Any]:
    try:
        header = json.loads(urlsafe_b64decode(token.split(".", 1)[0].encode()))
    except (ValueError, IndexError) as exc:
        raise TokenValidationError("malformed", "the token is not a JWT") from exc
    if not isinstance(header, dict):
        raise TokenValidationError("malformed", "the token header is not a JSON object")
    return header


def validate_token(token: str, *, keys: KeySet, expect: Expectations, now: datetime) -> dict[str, Any]:
    """Check signature, algorithm, iss, aud, azp, exp/nbf/iat (bounded skew), nonce, tid."""
    claims = _verified_claims(token, keys=keys, algorithms=expect.algorithms)
    _check_issuer(claims, expect)
    _check_audience(claims, expect)
    _check_times(claims, now=now, skew=expect.skew)
    if expect.nonce is not None and claims.get("nonce") != expect.nonce:
        raise TokenValidationError("nonce", "the token's nonce does not match this login (replayed token?)")
    return claims


def _verified_claims(token: str, *, keys: KeySet, algorithms: tuple[str, ...]) -> dict[str, Any]:
    header = unverified_header(token)
    if header.get("alg") not in algorithms:
        raise TokenValidationError("alg", f"the token uses alg {header.get('alg')!r}; allowed: {algorithms}")
    kid = header.get("kid")
    if kid is None or not any(k.kid == kid for k in keys.keys):
        raise UnknownSigningKey(kid)
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
    except (JoseError, ValueError) as exc:
        raise TokenValidationError("signature", f"the token's signature does not verify: {exc}") from exc
    return dict(decoded.claims)


def _check_issuer(claims: Mapping[str, Any], expect: Expectations) -> None:
    tid = claims.get("tid")
    if expect.tenant_id is not None and tid != expect.tenant_id:
        raise TokenValidationError(
            "tenant", f"the token is from tenant {tid!r}, not this organization's tenant {expect.tenant_id!r}"
        )
    issuers = [expect.issuer] if isinstance(expect.issuer, str) else list(expect.issuer)
    allowed = {i.replace(TENANT_TEMPLATE, str(tid)) if TENANT_TEMPLATE in i else i for i in issuers}
    if claims.get("iss") not in allowed:
        raise TokenValidationError("iss", f"the token's issuer {claims.get('iss')!r} is not {sorted(allowed)}")


def _check_audience(claims: Mapping[str, Any], expect: Expectations) -> None:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    wanted = [expect.audience] if isinstance(expect.audience, str) else list(expect.audience)
    if not set(wanted) & set(audiences):
        raise TokenValidationError("aud", f"the token is for audience {aud!r}, not {' or '.join(wanted)!r}")
    azp = claims.get("azp")
    # OIDC Core §3.1.3.7 (4)-(5): with several audiences azp must be present and be us.
    if expect.check_azp and (azp is not None or len(audiences) > 1) and azp != expect.audience:
        raise TokenValidationError("azp", f"the token's authorized party {azp!r} is not {expect.audience!r}")


def _check_times(claims: Mapping[str, Any], *, now: datetime, skew: timedelta) -> None:
    ts, leeway = now.timestamp(), skew.total_seconds()
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    if not isinstance(exp, int | float):
        raise TokenValidationError("exp", "the token has no expiry")
    if exp <= ts - leeway:
        raise TokenValidationError("exp", "the token has expired (check the clocks if this repeats)")
    if isinstance(nbf, int | float) and nbf > ts + leeway:
        raise TokenValidationError("nbf", "the token is not valid yet (the issuer's clock is ahead)")
    if isinstance(iat, int | float) and iat > ts + leeway:
        raise TokenValidationError("iat", "the token was issued in the future (the issuer's clock is ahead)")

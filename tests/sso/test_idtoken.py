"""Token checks on plain data (issue 5 §7): pinned algorithms, iss per tenant, aud/azp, bounded skew, nonce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from koppel.sso.protocol.errors import TokenValidationError
from koppel.sso.protocol.idtoken import Expectations, UnknownSigningKey, validate_token

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TID = "8f6c2a3e-0d51-4d8e-9a3b-1c2d3e4f5a6b"
OTHER = "2b7f9c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
KEYS = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])
EXPECT = Expectations(issuer="https://login.example/{tenantid}/v2.0", audience="app", nonce="n1", tenant_id=TID)


def token(key: Any = KEY, alg: str = "RS256", kid: str = "k1", **overrides: Any) -> str:
    ts = int(NOW.timestamp())
    claims = {"iss": f"https://login.example/{TID}/v2.0", "aud": "app", "tid": TID, "nonce": "n1",
              "iat": ts, "nbf": ts, "exp": ts + 3600, "sub": "s", **overrides}  # fmt: skip
    body = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": kid}, body, key, algorithms=[alg])


def reason(tok: str, expect: Expectations = EXPECT, now: datetime = NOW) -> str:
    with pytest.raises(TokenValidationError) as info:
        validate_token(tok, keys=KEYS, expect=expect, now=now)
    return info.value.reason


def test_a_good_token_passes() -> None:
    assert validate_token(token(), keys=KEYS, expect=EXPECT, now=NOW)["sub"] == "s"


def test_another_tenants_token_is_refused_even_with_a_matching_template_issuer() -> None:
    assert reason(token(tid=OTHER, iss=f"https://login.example/{OTHER}/v2.0")) == "tenant"
    assert reason(token(iss=f"https://login.example/{OTHER}/v2.0")) == "iss"


def test_audience_and_authorized_party() -> None:
    assert reason(token(aud="someone-else")) == "aud"
    assert reason(token(aud=["app", "other"])) == "azp"
    assert reason(token(aud=["app", "other"], azp="other")) == "azp"
    assert validate_token(token(aud=["app", "other"], azp="app"), keys=KEYS, expect=EXPECT, now=NOW)


def test_algorithms_are_pinned() -> None:
    secret = OctKey.import_key(b"x" * 32)
    assert reason(token(key=secret, alg="HS256")) == "alg"
    assert reason(token(alg="PS256")) == "alg"


def test_unknown_kid_asks_for_a_jwks_refetch() -> None:
    with pytest.raises(UnknownSigningKey):
        validate_token(token(kid="rotated"), keys=KEYS, expect=EXPECT, now=NOW)


def test_clock_skew_is_bounded_to_two_minutes() -> None:
    assert validate_token(token(), keys=KEYS, expect=EXPECT, now=NOW + timedelta(hours=1, minutes=1))
    assert reason(token(), now=NOW + timedelta(hours=1, minutes=3)) == "exp"
    assert reason(token(nbf=int(NOW.timestamp()) + 600)) == "nbf"
    assert reason(token(exp=None)) == "exp"


def test_nonce_must_match_and_signature_must_verify() -> None:
    assert reason(token(nonce="replayed")) == "nonce"
    forged = token()[:-6] + "AAAAAA"
    assert reason(forged) == "signature"

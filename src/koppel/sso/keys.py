"""The OP's signing keys: RS256 and ES256, private JWK encrypted at rest, rotated together with
``koppel client rotate-signing-key``.

RS256 is what every client gets unless registered otherwise (OIDC Core §15.1: the algorithm every
relying party must support); a client registered with ``id_token_signed_response_alg`` ES256 (OIDC
Dynamic Client Registration §2) gets its tokens signed with the EC P-256 key, about eight times
cheaper to sign on this box (bench/sso/README.md). The JWKS serves each algorithm's current key and
the one it replaced, so tokens signed just before a rotation still verify at the host app (OIDC
Core §10.1.1: keys roll over, clients refetch).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.security.crypto import SecretBox
from koppel.sso.models import SigningKey

ALGORITHM = "RS256"  # the default of every client (OIDC Registration §2)
ALGORITHMS = ("RS256", "ES256")  # what koppel signs with, and all it accepts on its own tokens
SERVED_RETIRED_KEYS = 1  # per algorithm

PrivateKey = RSAKey | ECKey

# kid -> imported private key; keys never change once written, so the cache needs no invalidation.
_PRIVATE_CACHE: dict[str, PrivateKey] = {}


def key_algorithm(public_jwk: dict[str, Any]) -> str:
    return str(public_jwk.get("alg") or ALGORITHM)  # keys written before ES256 carry "RS256"


def create_key(*, session: Session, secret_box: SecretBox, now: datetime, alg: str = ALGORITHM) -> SigningKey:
    if alg == "RS256":
        key: PrivateKey = RSAKey.generate_key(2048, parameters={"alg": alg, "use": "sig"}, auto_kid=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", parameters={"alg": alg, "use": "sig"}, auto_kid=True)
    else:
        raise ValueError(f"koppel does not sign with {alg}")
    row = SigningKey(
        kid=key.kid,
        private_jwk=secret_box.encrypt(json.dumps(key.as_dict(private=True))),
        public_jwk=key.as_dict(private=False),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _current_rows(session: Session) -> list[SigningKey]:
    return list(
        session.scalars(
            select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc())
        )
    )


def current_key(
    *, session: Session, secret_box: SecretBox, now: datetime, alg: str = ALGORITHM
) -> tuple[str, PrivateKey]:
    """The key new tokens of ``alg`` are signed with; created on first use."""
    row = next((r for r in _current_rows(session) if key_algorithm(r.public_jwk) == alg), None)
    if row is None:
        row = create_key(session=session, secret_box=secret_box, now=now, alg=alg)
    return row.kid, _private(row, secret_box)


def ensure_keys(*, session: Session, secret_box: SecretBox, now: datetime) -> None:
    """A current key for every algorithm, so the JWKS has it before the first token needs it."""
    have = {key_algorithm(r.public_jwk) for r in _current_rows(session)}
    for alg in ALGORITHMS:
        if alg not in have:
            create_key(session=session, secret_box=secret_box, now=now, alg=alg)


def rotate_keys(*, session: Session, secret_box: SecretBox, now: datetime) -> dict[str, Any]:
    """Retire the current keys (still served) and start signing with new ones, one per algorithm."""
    current = _current_rows(session)
    for row in current:
        row.retired_at = now
    new = {alg: create_key(session=session, secret_box=secret_box, now=now, alg=alg).kid for alg in ALGORITHMS}
    return {"kid": new[ALGORITHM], "kids": new, "retired": [r.kid for r in current]}


def jwks(*, session: Session) -> dict[str, Any]:
    current = list(reversed(_current_rows(session)))
    retired = session.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_not(None)).order_by(SigningKey.retired_at.desc())
    )
    served: dict[str, int] = {}
    previous = []
    for row in retired:  # the most recently retired of each algorithm
        alg = key_algorithm(row.public_jwk)
        if served.get(alg, 0) < SERVED_RETIRED_KEYS:
            served[alg] = served.get(alg, 0) + 1
            previous.append(row)
        if len(previous) == SERVED_RETIRED_KEYS * len(ALGORITHMS):
            break
    return {"keys": [k.public_jwk for k in [*current, *previous]]}


def public_keys(*, session: Session) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = jwks(session=session)["keys"]
    return keys


def _private(row: SigningKey, secret_box: SecretBox) -> PrivateKey:
    key = _PRIVATE_CACHE.get(row.kid)
    if key is None:
        data = json.loads(secret_box.decrypt(row.private_jwk))
        key = ECKey.import_key(data) if data.get("kty") == "EC" else RSAKey.import_key(data)
        _PRIVATE_CACHE[row.kid] = key
    return key

"""The OP's signing keys: RS256, private JWK encrypted at rest, rotated with ``koppel sso rotate-keys``.

The JWKS serves the current key and the one it replaced, so tokens signed just before a
rotation still verify at the host app (OIDC Core §10.1.1: keys roll over, clients refetch).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.security.crypto import SecretBox
from koppel.sso.models import SigningKey

ALGORITHM = "RS256"
SERVED_RETIRED_KEYS = 1

# kid -> imported private key; keys never change once written, so the cache needs no invalidation.
_PRIVATE_CACHE: dict[str, RSAKey] = {}


def create_key(*, session: Session, secret_box: SecretBox, now: datetime) -> SigningKey:
    key = RSAKey.generate_key(2048, parameters={"alg": ALGORITHM, "use": "sig"}, auto_kid=True)
    row = SigningKey(
        kid=key.kid,
        private_jwk=secret_box.encrypt(json.dumps(key.as_dict(private=True))),
        public_jwk=key.as_dict(private=False),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def current_key(*, session: Session, secret_box: SecretBox, now: datetime) -> tuple[str, RSAKey]:
    """The key new tokens are signed with; created on first use."""
    row = session.scalar(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc()).limit(1)
    )
    if row is None:
        row = create_key(session=session, secret_box=secret_box, now=now)
    return row.kid, _private(row, secret_box)


def rotate_keys(*, session: Session, secret_box: SecretBox, now: datetime) -> dict[str, Any]:
    """Retire the current key (still served) and start signing with a new one."""
    retired = [k.kid for k in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))]
    for kid in retired:
        session.get_one(SigningKey, kid).retired_at = now
    new = create_key(session=session, secret_box=secret_box, now=now)
    return {"kid": new.kid, "retired": retired}


def jwks(*, session: Session) -> dict[str, Any]:
    current = list(session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))))
    previous = session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_not(None))
        .order_by(SigningKey.retired_at.desc())
        .limit(SERVED_RETIRED_KEYS)
    )
    return {"keys": [k.public_jwk for k in [*current, *previous]]}


def public_keys(*, session: Session) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = jwks(session=session)["keys"]
    return keys


def _private(row: SigningKey, secret_box: SecretBox) -> RSAKey:
    key = _PRIVATE_CACHE.get(row.kid)
    if key is None:
        key = RSAKey.import_key(json.loads(secret_box.decrypt(row.private_jwk)))
        _PRIVATE_CACHE[row.kid] = key
    return key

"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from KOPPEL_SECRET_KEY."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    """Encrypts and decrypts small secrets (client secrets, webhook secrets) for the database."""

    def __init__(self, secret_key: str, *, purpose: bytes = b"koppel-secrets-at-rest") -> None:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                "a stored secret cannot be decrypted: KOPPEL_SECRET_KEY changed since it was saved"
            ) from exc

    def encrypt_json(self, values: dict[str, Any]) -> str:
        return self.encrypt(json.dumps(values, sort_keys=True))

    def decrypt_json(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        value = json.loads(self.decrypt(token))
        assert isinstance(value, dict)
        return value

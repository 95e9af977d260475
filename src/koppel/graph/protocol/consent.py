"""Admin consent (spec §5): the consent URL, the signed ``state``, and the callback's answer.

The ``state`` binds a consent link to one connection and expires; it is an HMAC-signed,
base64url JSON payload so the callback needs no lookup to know which connection it is for.
Single use is enforced by the caller, which records the hash of every state it accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
CALLBACK_PATH = "/graph/consent/callback"


class StateInvalid(Exception):
    """The state is forged, for another purpose, or expired; the message says which."""


def admin_consent_url(*, authority: str, tenant_id: str, client_id: str, base_url: str, state: str) -> str:
    """``{authority}/{tenant}/v2.0/adminconsent?...`` with the ``.default`` scope (spec §5)."""
    query = urlencode(
        {
            "client_id": client_id,
            "scope": GRAPH_DEFAULT_SCOPE,
            "redirect_uri": base_url + CALLBACK_PATH,
            "state": state,
        }
    )
    return f"{authority}/{tenant_id}/v2.0/adminconsent?{query}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: str) -> str:
    return _b64(hmac.new(key.encode(), b"koppel-consent:" + payload.encode(), hashlib.sha256).digest())


def sign_state(*, key: str, connection_id: str, now: datetime, ttl: timedelta) -> str:
    body = {"c": connection_id, "exp": int((now + ttl).timestamp()), "n": secrets.token_urlsafe(12)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_mac(key, payload)}"


def verify_state(*, key: str, state: str, now: datetime) -> str:
    """The connection id the state was issued for; raises ``StateInvalid`` otherwise."""
    payload, _, mac = state.partition(".")
    if not mac or not hmac.compare_digest(mac, _mac(key, payload)):
        raise StateInvalid("the consent link is not one koppel issued (state signature does not match)")
    try:
        body = json.loads(_unb64(payload))
        connection_id, expires = str(body["c"]), int(body["exp"])
    except (ValueError, KeyError, TypeError):
        raise StateInvalid("the consent link's state is malformed") from None
    if now.timestamp() > expires:
        raise StateInvalid("the consent link has expired; ask for a new one (koppel connection consent-url)")
    return connection_id


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True)
class ConsentAnswer:
    """What Entra said on the redirect: granted (with tenant) or an error with its reason."""

    state: str
    granted: bool
    tenant_id: str | None = None
    error: str | None = None
    reason: str | None = None


def parse_callback(params: Mapping[str, str]) -> ConsentAnswer:
    """Read the redirect (spec §5): ``admin_consent=True&tenant=..`` or ``error=..`` (which still
    carries ``admin_consent=True`` in the observed form, so ``error`` decides)."""
    state = params.get("state", "")
    if params.get("error"):
        description = (params.get("error_description") or params["error"]).splitlines()[0].strip()
        return ConsentAnswer(state, False, error=params["error"], reason=description)
    if params.get("admin_consent", "").lower() == "true" and params.get("tenant"):
        return ConsentAnswer(state, True, tenant_id=params["tenant"])
    return ConsentAnswer(state, False, error="invalid_request", reason="the answer from Microsoft was incomplete")

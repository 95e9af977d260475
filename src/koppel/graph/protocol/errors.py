"""Graph and Entra token errors as data (spec ``entra-oidc-graph.md`` §4.4 and §8.1).

GraphError                         any non-2xx answer from Graph, parsed from ``{"error":{...}}``
├── Throttled (429, or 503/504 with Retry-After)   retried after ``retry_after`` seconds
├── ServerError (5xx, timeouts, dropped connections) retried with backoff
├── AccessDenied (401/403)          consent missing or revoked; the run stops
├── ResourceNotFound (404)          e.g. a scoped group was deleted
└── DeltaExpired (410 resyncRequired, syncStateNotFound) a full resync is needed
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Codes Graph uses when a delta token can no longer be used (spec §8.5 last bullet).
DELTA_EXPIRED_CODES = frozenset({"resyncRequired", "syncStateNotFound", "Request_DeltaTokenExpired"})


class GraphError(Exception):
    """Graph answered with an error; ``code`` and ``message`` as Graph sent them."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class Throttled(GraphError):
    pass


class ServerError(GraphError):
    pass


class AccessDenied(GraphError):
    pass


class ResourceNotFound(GraphError):
    pass


class DeltaExpired(GraphError):
    pass


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (Graph sends an integer, spec §8.1); dates are not used by Graph."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_response(status: int, headers: Mapping[str, str], body: Any) -> GraphError:
    """Classify a non-2xx Graph answer (spec §8.1 error shape, §8.5 expired delta token)."""
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    retry_after = parse_retry_after(headers)
    cls: type[GraphError] = GraphError
    if status == 410 or code in DELTA_EXPIRED_CODES:
        cls = DeltaExpired
    elif status == 429 or (status in (503, 504) and retry_after is not None):
        cls = Throttled
    elif status >= 500:
        cls = ServerError
    elif status in (401, 403):
        cls = AccessDenied
    elif status == 404:
        cls = ResourceNotFound
    return cls(status, code or f"HTTP{status}", message or "no message", retry_after=retry_after)


def token_error_message(result: Mapping[str, Any]) -> str:
    """The first line of an AADSTS ``error_description`` (spec §4.4), for an admin to read."""
    description = str(result.get("error_description") or result.get("error") or "unknown error")
    return description.splitlines()[0].strip()


def is_consent_missing(result: Mapping[str, Any]) -> bool:
    """Token errors meaning "the tenant has not (or no longer) consented" (AADSTS 65001, 700016, 7000112)."""
    codes = set(result.get("error_codes") or [])
    return bool(codes & {65001, 700016, 7000112, 500011}) or result.get("suberror") == "consent_required"

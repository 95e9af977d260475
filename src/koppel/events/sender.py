"""One signed POST of one event to one endpoint, and what happened, in words an admin reads.

The body is the event as the host app sees it (also the shape of ``GET /api/v1/events``):
``{"id", "type", "org_id", "subject_id", "data", "occurred_at"}``, compact JSON. Redirects
are not followed: a moved endpoint must be updated, not silently chased.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from koppel import __version__
from koppel.events.models import Event
from koppel.events.signing import ATTEMPT_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, sign

ERROR_BODY_CHARS = 200


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def event_payload(event: Event) -> dict[str, Any]:
    """The event as delivered (the host-app contract)."""
    occurred = event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": event.id,
        "type": event.type,
        "org_id": event.org_id,
        "subject_id": event.subject_id,
        "data": event.data,
        "occurred_at": occurred,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def post_event(http: httpx.Client, *, url: str, secret: str, event: Event, attempt: int, now: datetime) -> Outcome:
    body = encode(event_payload(event))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"koppel-webhooks/{__version__}",
        SIGNATURE_HEADER: sign(secret, body, timestamp=int(now.timestamp())),
        EVENT_ID_HEADER: str(event.id),
        EVENT_TYPE_HEADER: event.type,
        ATTEMPT_HEADER: str(attempt),
    }
    started = time.monotonic()
    try:
        response = http.post(url, content=body, headers=headers, follow_redirects=False)
    except httpx.HTTPError as exc:
        return Outcome(False, None, describe_error(exc, url, http), _ms_since(started))
    duration = _ms_since(started)
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, None, duration)
    return Outcome(False, response.status_code, describe_status(response), duration)


def describe_error(exc: httpx.HTTPError, url: str, http: httpx.Client) -> str:
    host = urlsplit(url).netloc
    if isinstance(exc, httpx.TimeoutException):
        seconds = http.timeout.read or http.timeout.connect
        return f"{host} did not answer within {seconds:g} s (KOPPEL_WEBHOOK_TIMEOUT_SECONDS)"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {host} ({exc or 'connection failed'}); is the receiver running?"
    return f"the request to {host} failed: {type(exc).__name__}: {exc}"


def describe_status(response: httpx.Response) -> str:
    text = response.text[:ERROR_BODY_CHARS].strip()
    hint = " (redirects are not followed: update the endpoint URL)" if response.is_redirect else ""
    said = f": {text}" if text else ""
    return f"the receiver answered {response.status_code} {response.reason_phrase}{hint}{said}"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

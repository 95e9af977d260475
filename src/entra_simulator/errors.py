"""The simulator's wire errors: one class per surface, each knowing its JSON shape.

```
SimulatorError
├── AadError      Entra sign-in error: {"error","error_description":"AADSTSnnn: ...","error_codes",...} (spec §4.4)
└── GraphError    Graph error: {"error":{"code","message","innerError":{date,request-id,...}}}   (spec §8.1)
```
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class SimulatorError(Exception):
    status_code = 400


class AadError(SimulatorError):
    """An Entra token/authorize error with its AADSTS code (spec §4.4 table)."""

    def __init__(self, error: str, code: int, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status_code = status
        self.extra = extra

    def description(self, trace_id: str, correlation_id: str, timestamp: str) -> str:
        return (
            f"AADSTS{self.code}: {self.message} Trace ID: {trace_id} Correlation ID: {correlation_id} "
            f"Timestamp: {timestamp}"
        )

    def body(self, correlation_id: str | None = None) -> dict[str, Any]:
        trace_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": self.description(trace_id, correlation_id, timestamp),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
            **self.extra,
        }


class GraphError(SimulatorError):
    """A Microsoft Graph error (spec §8.1): ``code`` and ``message`` as the real service words them."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, request_id: str, client_request_id: str) -> dict[str, Any]:
        date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        inner = {"date": date, "request-id": request_id, "client-request-id": client_request_id}
        return {"error": {"code": self.code, "message": self.message, "innerError": inner}}


def not_found(object_id: str) -> GraphError:
    """404 for a missing directory object (spec §8.1, I-G404)."""
    message = f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present."
    return GraphError(404, "Request_ResourceNotFound", message)


def denied() -> GraphError:
    """403 for a token without the needed permission (spec §8.1, I-G403)."""
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

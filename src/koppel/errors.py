"""koppel's error tree. Each error knows its wire form and tells the admin what to fix.

    KoppelError (400, "bad-request")
    ├── InvalidInput (422, "invalid-input")       a field an admin typed is wrong; names the field
    ├── NotFound (404, "not-found")               an id that does not exist (in this organization)
    ├── Conflict (409, "conflict")                a duplicate slug, domain, name
    ├── Unauthorized (401, "unauthorized")        missing or unknown API key / token
    ├── Forbidden (403, "forbidden")              valid credentials, not allowed here
    └── UpstreamError (502, "upstream-error")     Microsoft / an IdP answered with an error

Each surface renders these with one handler: JSON API as RFC 9457 problem+json
(``koppel.api.problems``), SCIM as an ``Error`` resource, OIDC as an error redirect.
Capabilities subclass these for their own cases (``scim.errors``, ``graph.errors``).
"""

from __future__ import annotations

from typing import Any


class KoppelError(Exception):
    status_code = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """RFC 9457 problem details (``type`` is a stable koppel URN)."""
        body: dict[str, Any] = {
            "type": f"urn:koppel:problem:{self.code}",
            "title": self.title,
            "status": self.status_code,
            "detail": self.detail,
        }
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class InvalidInput(KoppelError):
    status_code = 422
    code = "invalid-input"
    title = "Invalid input"


class NotFound(KoppelError):
    status_code = 404
    code = "not-found"
    title = "Not found"


class Conflict(KoppelError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class Unauthorized(KoppelError):
    status_code = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(KoppelError):
    status_code = 403
    code = "forbidden"
    title = "Forbidden"


class UpstreamError(KoppelError):
    status_code = 502
    code = "upstream-error"
    title = "Upstream error"

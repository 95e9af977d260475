"""SCIM errors: rendered as ``urn:ietf:params:scim:api:messages:2.0:Error`` with a ``scimType``.

Pure (no FastAPI, no SQLAlchemy): the protocol package raises these too.
"""

from __future__ import annotations

from typing import Any

from koppel.errors import KoppelError

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(KoppelError):
    """A SCIM protocol error. ``scim_type`` is one of RFC 7644 §3.12's keywords (or None)."""

    status_code = 400
    code = "scim-error"
    title = "SCIM request refused"

    def __init__(self, detail: str, *, status: int = 400, scim_type: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.status_code = status
        self.scim_type = scim_type

    def to_scim(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status_code), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def invalid_filter(detail: str) -> ScimError:
    return ScimError(detail, scim_type="invalidFilter")


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(detail, scim_type="invalidSyntax")


def invalid_value(detail: str) -> ScimError:
    return ScimError(detail, scim_type="invalidValue")


def invalid_path(detail: str) -> ScimError:
    return ScimError(detail, scim_type="invalidPath")


def mutability(detail: str) -> ScimError:
    return ScimError(detail, scim_type="mutability")


def uniqueness(detail: str) -> ScimError:
    return ScimError(detail, status=409, scim_type="uniqueness")


def not_found(detail: str) -> ScimError:
    return ScimError(detail, status=404)


def unauthorized(detail: str) -> ScimError:
    return ScimError(detail, status=401)

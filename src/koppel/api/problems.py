"""RFC 9457 ``application/problem+json`` for every error of the management API."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from koppel.errors import KoppelError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _koppel_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KoppelError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return problem_response(exc.status_code, exc.to_problem(), headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_path(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))} for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    body = {
        "type": "urn:koppel:problem:invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": detail,
        "field": errors[0]["field"] if errors else "request",
        "errors": errors,
    }
    return problem_response(422, body)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    body = {
        "type": "about:blank",
        "title": str(exc.detail),
        "status": exc.status_code,
        "detail": str(exc.detail),
    }
    return problem_response(exc.status_code, body, dict(exc.headers or {}))


async def unstorable_value(_request: Request, exc: Exception) -> JSONResponse:
    """The database refused a value (PostgreSQL: a NUL character in text); the request is rolled back."""
    log.info("database refused a value: %s", exc)
    body = {
        "type": "urn:koppel:problem:invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": "a value contains a character that cannot be stored (such as a NUL byte); remove it and retry",
        "field": "request",
    }
    return problem_response(422, body)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    body = {
        "type": "urn:koppel:problem:internal",
        "title": "Internal error",
        "status": 500,
        "detail": "koppel hit an unexpected error; nothing was changed. The server log has the details.",
    }
    return problem_response(500, body)


def install(app: FastAPI) -> None:
    app.add_exception_handler(KoppelError, _koppel_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DataError, unstorable_value)
    app.add_exception_handler(Exception, _unexpected_error)

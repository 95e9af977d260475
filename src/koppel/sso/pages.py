"""HTML the SSO broker shows the end user: the e-mail form (home-realm discovery), errors, signed out.

No error reaches the browser as a traceback or a 500: every failure is one of these pages.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from koppel.security.tokens import constant_time_equals

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
CSRF_COOKIE = "koppel_csrf"


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, f"sso/{name}.html", context, status_code=status_code)


def error_page(
    request: Request, *, title: str, detail: str, reason: str | None = None, status_code: int = 400
) -> HTMLResponse:
    return render(request, "error", status_code, title=title, detail=detail, reason=reason)


def csrf_token(request: Request) -> str:
    """Double-submit cookie (OWASP CSRF cheat sheet): the form echoes the cookie's random value."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def set_csrf_cookie(response: HTMLResponse, token: str, *, secure: bool) -> HTMLResponse:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/sso")
    return response


def csrf_ok(request: Request, submitted: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and constant_time_equals(cookie, submitted)

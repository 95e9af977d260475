"""HTML of the sign-in pages, the Entra error page and the three ways back to the app (spec §3, §9.5).

Errors about the client or its redirect URI are shown on an error page and never redirected (spec §3);
everything else goes back to the registered redirect URI by ``query``, ``fragment`` or ``form_post``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from entra_simulator.errors import AadError

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status)


def error_page(error: AadError) -> HTMLResponse:
    return render(
        "error.html",
        status=400,
        code=error.code,
        message=error.message,
        request_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def respond(redirect_uri: str, params: dict[str, str], response_mode: str) -> Response:
    """Deliver ``params`` to the app: query string, fragment or an auto-submitting form (spec §3)."""
    params = {k: v for k, v in params.items() if v is not None}
    if response_mode == "form_post":
        return render("form_post.html", action=redirect_uri, fields=list(params.items()))
    separator = "#" if response_mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)


def error_params(error: AadError, state: str | None) -> dict[str, str]:
    body = error.body()
    params = {
        "error": error.error,
        "error_description": body["error_description"],
        "error_uri": body["error_uri"],
    }
    if state is not None:
        params["state"] = state
    return params

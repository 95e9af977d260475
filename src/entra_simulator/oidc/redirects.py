"""Redirect-URI matching (spec §3): exact, except that the port of an ``http://localhost`` URI is ignored."""

from __future__ import annotations

from urllib.parse import urlsplit

from entra_simulator.errors import AadError
from entra_simulator.model import AppRegistration

LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _without_port(uri: str) -> tuple[str, str, str, str]:
    parts = urlsplit(uri)
    return parts.scheme, parts.hostname or "", parts.path, parts.query


def matches(registered: str, requested: str) -> bool:
    if registered == requested:
        return True
    reg, req = urlsplit(registered), urlsplit(requested)
    if reg.scheme == "http" and reg.hostname in LOOPBACK and req.scheme == "http":
        return _without_port(registered) == _without_port(requested)
    return False


def check_redirect_uri(app: AppRegistration, requested: str | None) -> str:
    """The redirect URI to use, or AADSTS50011 (rendered as an error page, never redirected)."""
    if not requested:
        if app.redirect_uris:
            return app.redirect_uris[0]
        requested = ""
    if any(matches(r, requested) for r in app.redirect_uris):
        return requested
    raise AadError(
        "invalid_request",
        50011,
        f"The redirect URI '{requested}' specified in the request does not match the redirect URIs configured "
        f"for the application '{app.app_id}'. Make sure the redirect URI sent in the request matches one added "
        "to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn "
        "more about how to fix this.",
    )

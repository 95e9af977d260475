"""A scripted browser and host app for the SSO tests: follows redirects across koppel and the IdP.

koppel runs in-process (``TestClient`` on ``http://localhost``); the IdP is a real HTTPS server on
loopback (the Entra simulator or node's ``oidc-provider``). Each side keeps its own cookies, as a
browser does per site.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi.testclient import TestClient

KOPPEL = "http://localhost"
HOST_REDIRECT = "https://app.example/cb"
MAX_FORMS = 3

# (response) -> form data to submit, or None when the page is not a login form
FormFiller = Callable[[httpx.Response], tuple[str, dict[str, str]] | None]


def hidden_inputs(html: str) -> dict[str, str]:
    found = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            found[name.group(1)] = unescape(value.group(1)) if value else ""
    return found


def form_action(html: str) -> str:
    match = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert match, html[:500]
    return unescape(match.group(1))


def entra_login(login: str, password: str) -> FormFiller:
    """Fills the simulator's login page (fields ``login``/``passwd``, as Entra's), once."""
    done: list[bool] = []

    def fill(response: httpx.Response) -> tuple[str, dict[str, str]] | None:
        if 'name="passwd"' not in response.text or done:
            return None
        done.append(True)
        return form_action(response.text), {**hidden_inputs(response.text), "login": login, "passwd": password}

    return fill


def node_oidc_login(login: str) -> FormFiller:
    """Fills oidc-provider's development login (any password) and consent pages."""

    def fill(response: httpx.Response) -> tuple[str, dict[str, str]] | None:
        if 'name="password"' in response.text:
            return form_action(response.text), {**hidden_inputs(response.text), "login": login, "password": "x"}
        if 'value="consent"' in response.text:
            return form_action(response.text), hidden_inputs(response.text)
        return None

    return fill


@dataclass
class Browser:
    koppel: TestClient
    idp: httpx.Client
    fill: FormFiller | None = None
    visited: list[str] = field(default_factory=list)
    fills: int = 0

    def _client(self, url: str) -> Any:
        return self.koppel if url.startswith(KOPPEL) else self.idp

    def go(self, url: str, *, method: str = "GET", data: dict[str, str] | None = None) -> httpx.Response:
        """Follow redirects (and fill login forms) until the host app's redirect URI or a page."""
        for _ in range(30):
            self.visited.append(url)
            if url.startswith(HOST_REDIRECT):
                return httpx.Response(200, request=httpx.Request("GET", url))
            response = self._client(url).request(method, url, data=data, follow_redirects=False)
            if response.is_redirect:
                url, method, data = str(response.request.url.join(response.headers["location"])), "GET", None
                continue
            filled = self.fill(response) if self.fill else None
            if filled is None:
                return response
            action, data = filled
            url, method = str(response.request.url.join(action)), "POST"
            self.fills += 1
            if self.fills >= MAX_FORMS:
                self.fill = None  # the IdP keeps asking (wrong password?): show the page instead
        raise AssertionError(f"too many redirects: {self.visited[-5:]}")


@dataclass
class HostApp:
    """What a host app's OIDC library does: authorization request with state, nonce and PKCE."""

    client_id: str
    client_secret: str
    redirect_uri: str = HOST_REDIRECT
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def authorize_url(self, **extra: str) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile email offline_access",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return f"{KOPPEL}/oauth2/authorize?{urlencode(params)}"

    def refusal(self, response: httpx.Response) -> str:
        """The ``error_description`` of an OIDC ``access_denied`` redirect to this app (RFC 6749 §4.1.2.1)."""
        url = str(response.request.url)
        assert url.startswith(self.redirect_uri), f"did not land in the host app: {url} {response.text[:800]}"
        query = parse_qs(urlsplit(url).query)
        assert query["error"] == ["access_denied"] and query["state"] == [self.state] and "code" not in query, query
        return query["error_description"][0]

    def code_from(self, response: httpx.Response) -> str:
        url = str(response.request.url)
        assert url.startswith(self.redirect_uri), f"did not land in the host app: {url} {response.text[:800]}"
        query = parse_qs(urlsplit(url).query)
        assert query["state"] == [self.state]
        return query["code"][0]

    def redeem(self, koppel: TestClient, code: str, **overrides: str) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
            **overrides,
        }
        return koppel.post("/oauth2/token", data=data, auth=(self.client_id, self.client_secret))


def sign_in(koppel: TestClient, idp: httpx.Client, host: HostApp, login: str, password: str, **params: str) -> Any:
    """One complete login; returns the token response (or the page where it stopped).

    Each login is a new authorization request (fresh state, nonce and PKCE), as a library makes it.
    A refused login returns its ``error_description`` (the app got ``access_denied``).
    """
    host = HostApp(host.client_id, host.client_secret, host.redirect_uri)
    landed = Browser(koppel, idp, entra_login(login, password)).go(host.authorize_url(**params))
    if not str(landed.request.url).startswith(host.redirect_uri):
        return landed
    if "error=" in str(landed.request.url):
        return Refused(host.refusal(landed))
    return host.redeem(koppel, host.code_from(landed))


@dataclass(frozen=True)
class Refused:
    """The app received ``error=access_denied``; ``description`` is what koppel told it."""

    description: str

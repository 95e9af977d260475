"""A NUL character in a login parameter: a client error from the login's fast path too, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "authorize, client_id": (
        "GET",
        "/oauth2/authorize?client_id=a%00b&redirect_uri=http://x/cb&response_type=code&scope=openid&state=s"
        "&nonce=n&code_challenge=abc&code_challenge_method=S256",
        None,
    ),
    "callback, connection id": ("GET", "/sso/callback/a%00b?code=x&state=y", None),
    "token, client_id and code": (
        "POST",
        "/oauth2/token",
        {"grant_type": "authorization_code", "code": "a\x00b", "client_id": "c\x00", "client_secret": "s"},
    ),
}


@pytest.mark.parametrize("case", REQUESTS)
def test_nul_in_a_login_parameter_is_a_client_error(case: str, sso_app: FastAPI) -> None:
    method, url, form = REQUESTS[case]
    with TestClient(sso_app, raise_server_exceptions=False) as client:
        r = client.request(method, url, data=form, follow_redirects=False)
    assert 400 <= r.status_code < 500, r.text

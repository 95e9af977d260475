"""Browser-like helpers for driving /authorize and the login page in-process."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from httpx import Response

from tests.simulator.conftest import form_value, redirect_params
from tests.simulator.support import PASSWORD, REDIRECT_URI, TENANT_ID, USER_UPN, WEB_APP_ID, WEB_SECRET


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(client: TestClient, tenant: str = TENANT_ID, **params: str) -> Response:
    query = {
        "client_id": WEB_APP_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile offline_access User.Read",
        "state": "st-123",
        **params,
    }
    return client.get(f"/{tenant}/oauth2/v2.0/authorize?{urlencode(query)}")


def submit_login(client: TestClient, page: Response, upn: str = USER_UPN, password: str = PASSWORD) -> Response:
    assert page.status_code == 200, page.text
    action = re.findall(r'<form method="post" action="([^"]+)"', page.text)[0]
    return client.post(action, data={"ctx": form_value(page.text, "ctx"), "login": upn, "passwd": password})


def sign_in(client: TestClient, tenant: str = TENANT_ID, upn: str = USER_UPN, **params: str) -> dict[str, str]:
    """Authorize, sign in with UPN + password (unless the session already did), return the redirect's parameters."""
    page = authorize(client, tenant, **params)
    return redirect_params(page if page.status_code == 302 else submit_login(client, page, upn))


def redeem(client: TestClient, code: str, tenant: str = TENANT_ID, **extra: Any) -> Response:
    data = {
        "grant_type": "authorization_code",
        "client_id": WEB_APP_ID,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_secret": extra.pop("client_secret", WEB_SECRET),
        **extra,
    }
    return client.post(f"/{tenant}/oauth2/v2.0/token", data=data)

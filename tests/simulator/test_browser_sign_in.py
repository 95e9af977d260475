"""A person signs in on the simulator's login page in a real browser (Debian's chromium).

`koppel simulator serve` runs the generated sample tenant; Chromium opens the authorize URL,
types a user's UPN and password into Entra's `login` / `passwd` fields, and lands on the app's
redirect URI with a code that the token endpoint redeems for that user's ID token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CLI = [sys.executable, "-m", "entra_simulator"]
REDIRECT_URI = "http://localhost:8765/callback"  # an http://localhost port is not compared


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    seed = tmp_path_factory.mktemp("seed") / "tenant.yaml"
    generated = subprocess.run(
        [*CLI, "generate", "--users", "12", "--groups", "3"], capture_output=True, text=True, check=True, timeout=60
    )
    seed.write_text(generated.stdout)
    process = subprocess.Popen(
        [*CLI, "serve", "--seed", str(seed), "--port", "0", "--json"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line, "the simulator did not start"
        yield json.loads(line)
    finally:
        process.terminate()
        process.wait(10)


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_a_person_signs_in_through_the_login_page(served: dict[str, Any]) -> None:
    from playwright.sync_api import Route, sync_playwright

    tenant = served["tenants"][0]
    app, user = tenant["apps"][0], tenant["users"][0]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "client_id": app["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    landed: list[str] = []

    def callback(route: Route) -> None:  # stands in for the app at the redirect URI
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>signed in</h1>")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            page = browser.new_page()
            page.route("http://localhost:8765/**", callback)
            page.goto(f"{served['url']}/{tenant['id']}/oauth2/v2.0/authorize?{urlencode(query)}")
            page.fill("input[name=login]", user["userPrincipalName"])
            page.fill("input[name=passwd]", user["password"])
            page.locator("input[name=passwd]").press("Enter")
            page.wait_for_selector("text=signed in", timeout=15_000)
        finally:
            browser.close()

    params = parse_qs(urlsplit(landed[0]).query)
    assert params["state"] == [state]
    token = httpx.post(
        f"{served['url']}/{tenant['id']}/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": REDIRECT_URI,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    claims = _claims(token.json()["id_token"])
    assert claims["preferred_username"].lower() == user["userPrincipalName"].lower()
    assert claims["nonce"] == nonce and claims["tid"] == tenant["id"]

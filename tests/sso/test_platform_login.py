"""Entra platform mode end to end: host app → koppel → simulator login → koppel → host app tokens."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.simulator.support import PASSWORD, USER_UPN
from tests.sso.conftest import Setup
from tests.sso.flows import Browser, entra_login


def verify_id_token(koppel: TestClient, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(koppel.get("/oauth2/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def test_member_signs_in_and_host_app_gets_claims(koppel: TestClient, idp_http: httpx.Client, platform: Setup) -> None:
    browser = Browser(koppel, idp_http, entra_login(USER_UPN, PASSWORD))
    landed = browser.go(platform.host.authorize_url(organization="contoso"))
    code = platform.host.code_from(landed)
    tokens = platform.host.redeem(koppel, code)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    claims = verify_id_token(koppel, body["id_token"])
    assert claims["iss"] == "http://localhost"
    assert claims["aud"] == platform.host.client_id
    assert claims["nonce"] == platform.host.nonce
    assert claims["email"] == USER_UPN
    assert claims["given_name"] == "Jan" and claims["family_name"] == "de Vries"
    assert claims["org"]["slug"] == "contoso"
    assert len(claims["groups"]) == 3 and all(len(g) == 36 for g in claims["groups"])  # ids: nothing synced
    assert claims["amr"] and claims["idp"].endswith("/v2.0")
    userinfo = koppel.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.json()["sub"] == claims["sub"]

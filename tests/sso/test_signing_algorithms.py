"""Per-client token signatures: RS256 by default, ES256 on request (OIDC Registration §2
``id_token_signed_response_alg``), both keys in the JWKS and in discovery (issue 5 §1, §9)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from koppel.apikeys.service import create_api_key
from koppel.db.base import utcnow
from koppel.errors import InvalidInput
from koppel.sso import clients, keys
from tests.simulator.support import PASSWORD, USER_UPN
from tests.sso.conftest import Setup
from tests.sso.flows import HOST_REDIRECT, HostApp, sign_in
from tests.sso.test_provider import Db, refresh


def our_keys(koppel: TestClient) -> KeySet:
    return KeySet.import_key_set(koppel.get("/oauth2/jwks").json())


def es256_host(db: Db, sso_app: FastAPI) -> HostApp:
    with db() as session:
        client, secret = clients.create_client(
            session=session, name="EC host", redirect_uris=[HOST_REDIRECT], id_token_signed_response_alg="ES256",
            now=utcnow(),
        )  # fmt: skip
    return HostApp(client.client_id, secret)


def test_discovery_and_jwks_offer_both_algorithms(koppel: TestClient) -> None:
    doc = koppel.get("/.well-known/openid-configuration").json()
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    served = koppel.get("/oauth2/jwks").json()["keys"]
    assert sorted((k["alg"], k["kty"]) for k in served) == [("ES256", "EC"), ("RS256", "RSA")]
    assert all("d" not in k for k in served)  # public halves only


def test_an_es256_client_gets_es256_tokens_that_verify(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup, db: Db, sso_app: FastAPI
) -> None:
    host = es256_host(db, sso_app)
    response = sign_in(koppel, idp_http, host, USER_UPN, PASSWORD, organization="contoso")
    assert response.status_code == 200, response.text
    tokens = response.json()
    ec_kid = next(k["kid"] for k in koppel.get("/oauth2/jwks").json()["keys"] if k["alg"] == "ES256")
    id_token = jwt.decode(tokens["id_token"], our_keys(koppel), algorithms=["ES256"])
    assert id_token.header == {"alg": "ES256", "kid": ec_kid, "typ": "JWT"}
    assert id_token.claims["aud"] == host.client_id and id_token.claims["at_hash"]
    with pytest.raises(JoseError):  # an RS256-only verifier refuses it: the algorithm is pinned, not guessed
        jwt.decode(tokens["id_token"], our_keys(koppel), algorithms=["RS256"])
    access = jwt.decode(tokens["access_token"], our_keys(koppel), algorithms=["ES256"])
    assert access.header["typ"] == "at+jwt" and access.claims["client_id"] == host.client_id
    info = koppel.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == id_token.claims["sub"]
    renewed = refresh(koppel, host, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert jwt.decode(renewed.json()["access_token"], our_keys(koppel), algorithms=["ES256"]).header["alg"] == "ES256"


def test_the_default_stays_rs256(koppel: TestClient, idp_http: httpx.Client, platform: Setup) -> None:
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso").json()
    assert jwt.decode(tokens["id_token"], our_keys(koppel), algorithms=["RS256"]).header["alg"] == "RS256"
    assert jwt.decode(tokens["access_token"], our_keys(koppel), algorithms=["RS256"]).header["alg"] == "RS256"


@pytest.mark.parametrize("alg", ["none", "HS256", "RS384", "es256"])
def test_only_the_algorithms_koppel_signs_with_are_accepted(db: Db, alg: str) -> None:
    with db() as session, pytest.raises(InvalidInput, match="RS256 or ES256"):
        clients.create_client(
            session=session, name="X", redirect_uris=[HOST_REDIRECT], id_token_signed_response_alg=alg, now=utcnow()
        )


def test_the_api_registers_an_es256_client(koppel: TestClient, db: Db) -> None:
    with db() as session:
        secret = create_api_key(session=session, name="ops", org=None, now=utcnow()).secret
    auth = {"Authorization": f"Bearer {secret}"}
    body = {"name": "EC host", "redirect_uris": [HOST_REDIRECT], "id_token_signed_response_alg": "ES256"}
    created = koppel.post("/api/v1/sso/clients", json=body, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["id_token_signed_response_alg"] == "ES256"
    plain = koppel.post("/api/v1/sso/clients", json={**body, "id_token_signed_response_alg": None}, headers=auth)
    assert plain.status_code == 422  # no silent fallback
    default = koppel.post(
        "/api/v1/sso/clients", json={"name": "RSA host", "redirect_uris": [HOST_REDIRECT]}, headers=auth
    )
    assert default.json()["id_token_signed_response_alg"] == keys.ALGORITHM
    assert (
        koppel.post(
            "/api/v1/sso/clients", json={**body, "id_token_signed_response_alg": "HS256"}, headers=auth
        ).status_code
        == 422
    )

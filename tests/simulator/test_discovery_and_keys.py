"""Discovery documents and JWKS (spec §2): per tenant, common/organizations, unknown tenant, key rotation."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography import x509
from fastapi.testclient import TestClient

from tests.simulator.conftest import ORIGIN, claims_of, header_of
from tests.simulator.support import DOMAIN, TENANT_ID, VERIFIED_DOMAIN, WEB_APP_ID, WEB_SECRET


@pytest.mark.parametrize("segment", [TENANT_ID, DOMAIN, VERIFIED_DOMAIN])
def test_tenant_discovery_names_the_tenant_guid(client: TestClient, segment: str) -> None:
    doc = client.get(f"/{segment}/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{ORIGIN}/{TENANT_ID}/v2.0"
    assert doc["token_endpoint"] == f"{ORIGIN}/{TENANT_ID}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{ORIGIN}/{TENANT_ID}/oauth2/v2.0/authorize"
    assert doc["jwks_uri"] == f"{ORIGIN}/{TENANT_ID}/discovery/v2.0/keys"


@pytest.mark.parametrize("segment", ["common", "organizations"])
def test_multi_tenant_discovery_has_the_tenantid_template_issuer(client: TestClient, segment: str) -> None:
    doc = client.get(f"/{segment}/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == ORIGIN + "/{tenantid}/v2.0"
    assert doc["token_endpoint"] == f"{ORIGIN}/{segment}/oauth2/v2.0/token"


def test_v1_discovery_issuer_is_sts_windows_net(client: TestClient) -> None:
    doc = client.get(f"/{TENANT_ID}/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"https://sts.windows.net/{TENANT_ID}/"


def test_unknown_tenant_is_aadsts90002(client: TestClient) -> None:
    response = client.get("/nosuchtenant.onmicrosoft.com/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_tenant"
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002: Tenant 'nosuchtenant.onmicrosoft.com' not found.")


def test_keys_have_kid_x5t_and_x5c_of_the_same_certificate(client: TestClient) -> None:
    keys = client.get(f"/{TENANT_ID}/discovery/v2.0/keys").json()["keys"]
    assert len(keys) >= 2
    for key in keys:
        der = base64.b64decode(key["x5c"][0])
        thumb = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()
        assert key["kid"] == key["x5t"] == thumb
        assert key["kty"] == "RSA" and key["use"] == "sig"
        cert_n = x509.load_der_x509_certificate(der).public_key().public_numbers().n  # type: ignore[union-attr]
        n = int.from_bytes(base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4)), "big")
        assert cert_n == n
        assert key["issuer"] == f"{ORIGIN}/{TENANT_ID}/v2.0"


def _app_token(client: TestClient) -> str:
    response = client.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": WEB_APP_ID,
            "client_secret": WEB_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_rotation_signs_with_a_new_key_and_keeps_the_old_one_published(client: TestClient, sim) -> None:  # type: ignore[no-untyped-def]
    from entra_simulator.keys import KeySet

    sim.keys = KeySet()  # not the session's shared keys
    before = [k["kid"] for k in client.get("/common/discovery/v2.0/keys").json()["keys"]]
    assert header_of(_app_token(client))["kid"] == before[0]
    rotated = client.post("/_simulator/keys/rotate").json()
    after = [k["kid"] for k in client.get("/common/discovery/v2.0/keys").json()["keys"]]
    assert after == [rotated["signing_kid"], before[0]]
    token = _app_token(client)
    assert header_of(token)["kid"] == rotated["signing_kid"]
    assert claims_of(token)["tid"] == TENANT_ID

"""The token endpoint (spec §4): grants, client authentication and the AADSTS errors, as JSON bodies."""

from __future__ import annotations

import base64
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from entra_simulator.state import Simulator
from tests.simulator.conftest import claims_of
from tests.simulator.flows import redeem, sign_in
from tests.simulator.support import (
    API_APP_ID,
    API_SECRET,
    API_URI,
    NOCONSENT_APP_ID,
    NOCONSENT_SECRET,
    OLD_SECRET,
    OTHER_TENANT_ID,
    TENANT_ID,
    USER_UPN,
    WEB_APP_ID,
    WEB_SECRET,
    ClientCertificate,
)

TOKEN = f"/{TENANT_ID}/oauth2/v2.0/token"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def client_credentials(client: TestClient, tenant: str = TENANT_ID, **form: str) -> dict:
    data = {"grant_type": "client_credentials", "client_id": WEB_APP_ID, "scope": GRAPH_DEFAULT, **form}
    response = client.post(f"/{tenant}/oauth2/v2.0/token", data=data)
    body = dict(response.json())
    body["_status"] = response.status_code
    return body


def assert_aad_error(body: dict, error: str, code: int, status: int = 400) -> None:
    assert body["_status"] == status, body
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)


def test_client_credentials_with_secret_in_body_and_basic(client: TestClient) -> None:
    body = client_credentials(client, client_secret=WEB_SECRET)
    assert body["_status"] == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 86399
    claims = claims_of(body["access_token"])
    assert claims["iss"] == f"https://sts.windows.net/{TENANT_ID}/"
    assert claims["idtyp"] == "app" and claims["appidacr"] == "1"
    assert sorted(claims["roles"]) == ["GroupMember.Read.All", "User.Read.All"]
    basic = base64.b64encode(f"{WEB_APP_ID}:{WEB_SECRET}".encode()).decode()
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": GRAPH_DEFAULT},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("no-store")


def test_client_credentials_with_certificate_assertion(
    client: TestClient, client_certificate: ClientCertificate
) -> None:
    key = RSAKey.import_key(client_certificate.key_pem)
    x5t = base64.urlsafe_b64encode(bytes.fromhex(client_certificate.sha1_hex)).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"aud": f"https://login.simulator.test{TOKEN}", "iss": WEB_APP_ID, "sub": WEB_APP_ID}
    claims.update({"jti": str(uuid.uuid4()), "nbf": now, "exp": now + 600})
    assertion = jwt.encode({"alg": "RS256", "typ": "JWT", "x5t": x5t}, claims, key)
    form = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    body = client_credentials(client, client_assertion=assertion, **form)
    assert body["_status"] == 200, body
    assert claims_of(body["access_token"])["appidacr"] == "2"

    other_key = RSAKey.generate_key(2048)
    forged = jwt.encode({"alg": "RS256", "typ": "JWT", "x5t": x5t}, claims, other_key)
    assert_aad_error(client_credentials(client, client_assertion=forged, **form), "invalid_client", 700027, 401)


def test_client_credentials_errors(client: TestClient, sim: Simulator) -> None:
    assert_aad_error(client_credentials(client, client_secret="wrong"), "invalid_client", 7000215, 401)
    assert_aad_error(client_credentials(client, client_secret=OLD_SECRET), "invalid_client", 7000222, 401)
    assert_aad_error(client_credentials(client), "invalid_client", 7000218, 401)
    unknown = client_credentials(client, client_id=str(uuid.uuid4()), client_secret="x")
    assert_aad_error(unknown, "unauthorized_client", 700016)
    assert_aad_error(client_credentials(client, client_secret=WEB_SECRET, scope="User.Read"), "invalid_scope", 70011)
    no_tenant = client_credentials(client, "nope.onmicrosoft.com", client_secret=WEB_SECRET)
    assert no_tenant["_status"] == 400 and no_tenant["error_codes"] == [90002]
    # a single-tenant app of tenant 1 is unknown in tenant 2
    other = client_credentials(client, OTHER_TENANT_ID, client_id=NOCONSENT_APP_ID, client_secret=NOCONSENT_SECRET)
    assert_aad_error(other, "unauthorized_client", 700016)


def test_correlation_id_echoes_client_request_id(client: TestClient) -> None:
    request_id = str(uuid.uuid4())
    response = client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": WEB_APP_ID,
            "client_secret": "x",
            "scope": GRAPH_DEFAULT,
        },
        headers={"client-request-id": request_id},
    )
    assert response.json()["correlation_id"] == request_id


def test_app_without_consent_gets_a_token_without_roles(client: TestClient) -> None:
    body = client_credentials(client, client_id=NOCONSENT_APP_ID, client_secret=NOCONSENT_SECRET)
    assert body["_status"] == 200
    assert "roles" not in claims_of(body["access_token"])


def test_expired_secret_via_admin_api(client: TestClient) -> None:
    assert client_credentials(client, client_secret=WEB_SECRET)["_status"] == 200
    client.post(f"/_simulator/apps/{WEB_APP_ID}/secrets/expire")
    assert_aad_error(client_credentials(client, client_secret=WEB_SECRET), "invalid_client", 7000222, 401)


def test_code_is_single_use_and_bad_codes_are_invalid_grant(client: TestClient) -> None:
    code = sign_in(client)["code"]
    assert redeem(client, code).status_code == 200
    reused = redeem(client, code).json()
    assert reused["error"] == "invalid_grant" and reused["error_codes"] == [54005]
    malformed = redeem(client, "not-a-code").json()
    assert malformed["error"] == "invalid_grant" and malformed["error_codes"] == [9002313]
    unknown = redeem(client, code[:-6] + "abcdef").json()
    assert unknown["error_codes"] == [70000]
    assert unknown["error_description"].startswith("AADSTS70000: The provided value for the 'code' parameter")


def test_redirect_uri_must_match_at_redemption(client: TestClient) -> None:
    code = sign_in(client)["code"]
    body = redeem(client, code, redirect_uri="https://app.example/callback").json()
    assert body["error_codes"] == [50011]


def test_refresh_token_grant(client: TestClient) -> None:
    tokens = redeem(client, sign_in(client)["code"]).json()
    refreshed = client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "client_id": WEB_APP_ID,
            "client_secret": WEB_SECRET,
            "refresh_token": tokens["refresh_token"],
            "scope": "User.Read offline_access openid",
        },
    ).json()
    assert claims_of(refreshed["access_token"])["upn"] == USER_UPN
    assert refreshed["refresh_token"] and refreshed["id_token"]
    bad = client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "client_id": WEB_APP_ID,
            "client_secret": WEB_SECRET,
            "refresh_token": "nope",
        },
    ).json()
    assert bad["error"] == "invalid_grant" and bad["error_codes"] == [9002313]
    other_client = client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "client_id": API_APP_ID,
            "client_secret": API_SECRET,
            "refresh_token": tokens["refresh_token"],
        },
    ).json()
    assert other_client["error_codes"] == [70000]


def _api_token(client: TestClient) -> str:
    code = sign_in(client, scope=f"{API_URI}/access_as_user openid")["code"]
    token = redeem(client, code, scope=f"{API_URI}/access_as_user").json()["access_token"]
    assert claims_of(token)["aud"] == API_URI and claims_of(token)["scp"] == "access_as_user"
    return str(token)


def obo(client: TestClient, assertion: str, scope: str = "https://graph.microsoft.com/User.Read") -> dict:
    response = client.post(
        TOKEN,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "client_id": API_APP_ID,
            "client_secret": API_SECRET,
            "assertion": assertion,
            "scope": scope,
            "requested_token_use": "on_behalf_of",
        },
    )
    return dict(response.json())


def test_on_behalf_of(client: TestClient) -> None:
    body = obo(client, _api_token(client))
    claims = claims_of(body["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com" and claims["scp"] == "User.Read"
    assert claims["appid"] == API_APP_ID and claims["upn"] == USER_UPN


def test_on_behalf_of_without_consent_is_65001_consent_required(client: TestClient) -> None:
    body = obo(client, _api_token(client), scope="https://graph.microsoft.com/Mail.Read")
    assert body["error"] == "invalid_grant" and body["error_codes"] == [65001]
    assert body["suberror"] == "consent_required"


@pytest.mark.parametrize("tamper", ["signature", "audience"])
def test_on_behalf_of_rejects_foreign_assertions(client: TestClient, tamper: str) -> None:
    token = _api_token(client)
    if tamper == "signature":
        head, payload, _ = token.split(".")
        token = f"{head}.{payload}.{base64.urlsafe_b64encode(b'x' * 256).rstrip(b'=').decode()}"
    else:  # a Graph token is not meant for the API app
        token = client_credentials(client, client_secret=WEB_SECRET)["access_token"]
    body = obo(client, token)
    assert body["error"] == "invalid_grant"


def test_codes_and_sessions_are_bounded() -> None:
    from entra_simulator.state import Bounded

    kept = Bounded()
    kept.limit = 3
    for i in range(5):
        kept[f"code-{i}"] = {"n": i}
    assert list(kept) == ["code-2", "code-3", "code-4"]

"""msal.ConfidentialClientApplication against the simulator, with only the authority changed (issue 3 §5)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import msal

from tests.simulator.support import (
    API_APP_ID,
    API_SECRET,
    API_URI,
    DOMAIN,
    PASSWORD,
    REDIRECT_URI,
    TENANT_ID,
    USER_UPN,
    WEB_APP_ID,
    WEB_SECRET,
    ClientCertificate,
    SimulatorHandle,
)

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]


def _decode(token: str) -> dict:
    import base64
    import json

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_app_only_graph_token_with_secret(simulator: SimulatorHandle) -> None:
    app = msal.ConfidentialClientApplication(
        WEB_APP_ID, client_credential=WEB_SECRET, authority=simulator.authority(), instance_discovery=False
    )
    result = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert "access_token" in result, result
    claims = _decode(result["access_token"])
    assert claims["tid"] == TENANT_ID
    assert claims["aud"] == "https://graph.microsoft.com"
    assert sorted(claims["roles"]) == ["GroupMember.Read.All", "User.Read.All"]


def test_app_only_graph_token_with_certificate(
    simulator: SimulatorHandle, client_certificate: ClientCertificate
) -> None:
    app = msal.ConfidentialClientApplication(
        WEB_APP_ID,
        client_credential={"private_key": client_certificate.key_pem, "thumbprint": client_certificate.sha1_hex},
        authority=simulator.authority(),
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert "access_token" in result, result
    claims = _decode(result["access_token"])
    assert claims["appidacr"] == "2"  # certificate
    assert "User.Read.All" in claims["roles"]


def test_certificate_with_sha256_thumbprint_and_public_certificate(
    simulator: SimulatorHandle, client_certificate: ClientCertificate
) -> None:
    """With ``public_certificate`` MSAL signs PS256 with ``x5t#S256`` and sends ``x5c`` (spec §4.1)."""
    app = msal.ConfidentialClientApplication(
        WEB_APP_ID,
        client_credential={
            "private_key": client_certificate.key_pem,
            "thumbprint": client_certificate.sha1_hex,
            "public_certificate": client_certificate.cert_pem,
        },
        authority=simulator.authority(DOMAIN),
        validate_authority=False,
    )
    result = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert "access_token" in result, result


def test_wrong_secret_comes_back_as_aadsts_7000215(simulator: SimulatorHandle) -> None:
    app = msal.ConfidentialClientApplication(
        WEB_APP_ID, client_credential="not-the-secret", authority=simulator.authority(), instance_discovery=False
    )
    result = app.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]


def sign_in(simulator: SimulatorHandle, auth_uri: str, upn: str = USER_UPN) -> dict[str, str]:
    """Drive the login page over HTTP as a browser would and return the parameters sent back to the app
    (redirect query, or the fields of the form_post page)."""
    with simulator.http() as browser:
        page = browser.get(auth_uri)
        assert page.status_code == 200, page.text
        ctx = re.search(r'name="ctx" value="([^"]+)"', page.text)
        assert ctx, page.text
        done = browser.post(
            re.findall(r'action="([^"]+)"', page.text)[0], data={"ctx": ctx.group(1), "login": upn, "passwd": PASSWORD}
        )
    if done.status_code == 200:  # response_mode=form_post: the auto-submitting form carries the answer
        assert re.search(r'<form method="POST" name="hiddenform" action="([^"]+)"', done.text).group(1) == REDIRECT_URI
        return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', done.text))
    assert done.status_code == 302, done.text
    location = urlsplit(done.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return dict(parse_qsl(location.query))


def test_authorization_code_flow_with_pkce(simulator: SimulatorHandle) -> None:
    app = msal.ConfidentialClientApplication(
        WEB_APP_ID, client_credential=WEB_SECRET, authority=simulator.authority(), instance_discovery=False
    )
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, login_hint=USER_UPN)
    assert "code_challenge_method=S256" in flow["auth_uri"]
    auth_response = sign_in(simulator, flow["auth_uri"])
    assert auth_response["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == USER_UPN
    assert result["id_token_claims"]["tid"] == TENANT_ID
    assert _decode(result["access_token"])["scp"] == "User.Read"
    # the account MSAL built from client_info gives a silent token from the refresh token
    accounts = app.get_accounts(username=USER_UPN)
    assert accounts and accounts[0]["home_account_id"].endswith(f".{TENANT_ID}")
    silent = app.acquire_token_silent(["User.Read"], account=accounts[0], force_refresh=True)
    assert silent and "access_token" in silent, silent


def test_on_behalf_of(simulator: SimulatorHandle) -> None:
    web = msal.ConfidentialClientApplication(
        WEB_APP_ID, client_credential=WEB_SECRET, authority=simulator.authority(), instance_discovery=False
    )
    flow = web.initiate_auth_code_flow(
        [f"{API_URI}/access_as_user"], redirect_uri=REDIRECT_URI, response_mode="form_post"
    )
    api_token = web.acquire_token_by_auth_code_flow(flow, sign_in(simulator, flow["auth_uri"]))
    assert "access_token" in api_token, api_token
    assert _decode(api_token["access_token"])["aud"] == API_URI

    api = msal.ConfidentialClientApplication(
        API_APP_ID, client_credential=API_SECRET, authority=simulator.authority(), instance_discovery=False
    )
    result = api.acquire_token_on_behalf_of(api_token["access_token"], ["https://graph.microsoft.com/User.Read"])
    assert "access_token" in result, result
    claims = _decode(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["appid"] == API_APP_ID
    assert claims["upn"] == USER_UPN
    assert claims["scp"] == "User.Read"

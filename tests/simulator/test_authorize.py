"""/authorize and the login page (spec §3): fields, hints, prompt, response modes, nonce, state, PKCE, errors."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from entra_simulator.state import Simulator
from tests.simulator.conftest import claims_of, form_value, redirect_params
from tests.simulator.flows import authorize, pkce_pair, redeem, sign_in, submit_login
from tests.simulator.support import (
    ADMIN_UPN,
    NOCONSENT_APP_ID,
    OTHER_TENANT_ID,
    PASSWORD,
    REDIRECT_URI,
    TENANT_ID,
    USER_UPN,
    VERIFIED_DOMAIN,
    WEB_APP_ID,
)


def test_login_page_has_entra_field_names_and_prefills_login_hint(client: TestClient) -> None:
    page = authorize(client, login_hint=USER_UPN)
    assert page.status_code == 200
    assert 'name="login"' in page.text and 'name="passwd"' in page.text
    assert f'value="{USER_UPN}"' in page.text


def test_domain_hint_limits_the_accounts_offered(client: TestClient) -> None:
    page = authorize(client, "organizations", domain_hint="fabrikam-sim.onmicrosoft.com")
    assert "olga@fabrikam-sim.onmicrosoft.com" in page.text
    assert USER_UPN not in page.text
    everyone = authorize(client, "organizations")
    assert "olga@fabrikam-sim.onmicrosoft.com" in everyone.text and USER_UPN in everyone.text


def test_code_flow_with_state_nonce_and_pkce(client: TestClient) -> None:
    verifier, challenge = pkce_pair()
    params = sign_in(client, nonce="n-42", code_challenge=challenge, code_challenge_method="S256")
    assert params["state"] == "st-123"
    wrong = redeem(client, params["code"], code_verifier="not-the-verifier")
    assert wrong.json()["error_codes"] == [501481]

    params = sign_in(client, nonce="n-42", code_challenge=challenge, code_challenge_method="S256", client_info="1")
    assert "client_info" in params
    tokens = redeem(client, params["code"], code_verifier=verifier).json()
    id_claims = claims_of(tokens["id_token"])
    assert id_claims["nonce"] == "n-42"
    assert id_claims["aud"] == WEB_APP_ID
    assert id_claims["preferred_username"] == USER_UPN
    assert id_claims["iss"].endswith(f"/{TENANT_ID}/v2.0")
    assert claims_of(tokens["access_token"])["scp"] == "User.Read"
    assert tokens["refresh_token"]


def test_login_with_verified_domain_upn_through_organizations(client: TestClient) -> None:
    """Home-realm discovery: the tenant comes from the UPN's domain."""
    params = sign_in(client, "organizations")
    tokens = redeem(client, params["code"], tenant="organizations").json()
    assert claims_of(tokens["id_token"])["tid"] == TENANT_ID


def test_response_mode_form_post_renders_an_auto_submitting_form(client: TestClient) -> None:
    response = submit_login(client, authorize(client, response_mode="form_post"))
    assert response.status_code == 200
    assert f'action="{REDIRECT_URI}"' in response.text
    assert form_value(response.text, "state") == "st-123"
    assert form_value(response.text, "code")


def test_session_signs_in_silently_unless_prompt_login(client: TestClient) -> None:
    sign_in(client)
    silent = authorize(client, prompt="none")
    assert "code" in redirect_params(silent)
    again = authorize(client)
    assert again.status_code == 302
    forced = authorize(client, prompt="login")
    assert forced.status_code == 200 and 'name="passwd"' in forced.text


def test_prompt_none_without_session_is_login_required(client: TestClient) -> None:
    params = redirect_params(authorize(client, prompt="none"))
    assert params["error"] == "login_required"
    assert params["state"] == "st-123"


def test_wrong_password_and_disabled_account_stay_on_the_login_page(client: TestClient) -> None:
    wrong = submit_login(client, authorize(client), password="nope")
    assert wrong.status_code == 200 and "AADSTS50126" in wrong.text
    disabled = submit_login(client, authorize(client), upn=f"piet.disabled@{VERIFIED_DOMAIN}")
    assert "AADSTS50057" in disabled.text
    unknown = submit_login(client, authorize(client), upn=f"nobody@{VERIFIED_DOMAIN}")
    assert "AADSTS50034" in unknown.text


def test_unknown_app_and_redirect_mismatch_show_an_error_page_not_a_redirect(client: TestClient) -> None:
    unknown = authorize(client, client_id="00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 400 and "AADSTS700016" in unknown.text
    mismatch = authorize(client, redirect_uri="https://evil.example/callback")
    assert mismatch.status_code == 400 and "AADSTS50011" in mismatch.text
    assert "location" not in mismatch.headers


def test_port_of_a_localhost_redirect_uri_is_not_compared(client: TestClient) -> None:
    params = sign_in(client, redirect_uri="http://localhost:53117/callback")
    assert params["code"]
    wrong_path = authorize(client, redirect_uri="http://localhost:53117/other")
    assert "AADSTS50011" in wrong_path.text


def test_unknown_tenant_on_authorize_is_an_error_page(client: TestClient) -> None:
    response = authorize(client, "nope.onmicrosoft.com")
    assert response.status_code == 400 and "AADSTS90002" in response.text


def test_user_consent_page_then_code(client: TestClient) -> None:
    page = submit_login(client, authorize(client, client_id=NOCONSENT_APP_ID))
    assert page.status_code == 200 and "Permissions requested" in page.text and "User.Read" in page.text
    action = re.findall(r'<form method="post" action="([^"]+)"', page.text)[0]
    declined = client.post(action, data={"ctx": form_value(page.text, "ctx"), "consent": "cancel"})
    assert redirect_params(declined)["error"] == "access_denied"

    page = authorize(client, client_id=NOCONSENT_APP_ID)  # signed in now: straight to consent
    accepted = client.post(action, data={"ctx": form_value(page.text, "ctx"), "consent": "accept"})
    assert "code" in redirect_params(accepted)


def test_prompt_none_without_consent_is_consent_required(client: TestClient) -> None:
    sign_in(client)
    params = redirect_params(authorize(client, client_id=NOCONSENT_APP_ID, prompt="none"))
    assert params["error"] == "consent_required"
    assert params["error_description"].startswith("AADSTS65001")


def test_single_tenant_app_is_unknown_in_another_tenant(client: TestClient) -> None:
    response = authorize(client, OTHER_TENANT_ID, client_id=NOCONSENT_APP_ID)
    assert response.status_code == 400 and "AADSTS700016" in response.text


def test_logout_clears_the_session_and_redirects_only_to_registered_uris(client: TestClient) -> None:
    sign_in(client, upn=ADMIN_UPN)
    out = client.get(f"/{TENANT_ID}/oauth2/v2.0/logout?{urlencode({'post_logout_redirect_uri': REDIRECT_URI})}")
    assert out.status_code == 302 and out.headers["location"] == REDIRECT_URI
    assert redirect_params(authorize(client, prompt="none"))["error"] == "login_required"
    elsewhere = client.get(f"/{TENANT_ID}/oauth2/v2.0/logout?post_logout_redirect_uri=https://evil.example/")
    assert elsewhere.status_code == 200
    # A registered URI is no prefix: a longer path (or another host) is not redirected to.
    longer = client.get(
        f"/{TENANT_ID}/oauth2/v2.0/logout?{urlencode({'post_logout_redirect_uri': REDIRECT_URI + 'x'})}"
    )
    assert longer.status_code == 200
    assert PASSWORD not in elsewhere.text


def test_picking_an_account_signs_in_without_a_password(client: TestClient, sim: Simulator) -> None:
    page = authorize(client)
    user = sim.directory.tenants[TENANT_ID].find_user(USER_UPN)
    assert user is not None and f'value="{user.id}"' in page.text
    action = re.findall(r'<form method="post" action="([^"]+)"', page.text)[0]
    params = redirect_params(client.post(action, data={"ctx": form_value(page.text, "ctx"), "pick": user.id}))
    assert claims_of(redeem(client, params["code"]).json()["id_token"])["oid"] == user.id


def test_an_account_of_another_tenant_is_refused_with_50020(client: TestClient) -> None:
    page = submit_login(client, authorize(client), "olga@fabrikam-sim.onmicrosoft.com")
    assert page.status_code == 400 and "AADSTS50020" in page.text and "location" not in page.headers
    wrong_password = submit_login(client, authorize(client), "olga@fabrikam-sim.onmicrosoft.com", "nope")
    assert "AADSTS50126" in wrong_password.text


def test_a_guest_signs_in_with_their_own_address(client: TestClient) -> None:
    params = redirect_params(submit_login(client, authorize(client), "Sam@Fabrikam.example"))
    claims = claims_of(redeem(client, params["code"]).json()["id_token"])
    assert claims["preferred_username"] == claims["email"] == "sam@fabrikam.example"
    assert claims["idp"].startswith("https://sts.windows.net/") and claims["tid"] == TENANT_ID

"""Admin consent callback parameters (spec §5) and the groups claim with overage (spec §7.4)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from entra_simulator.state import Simulator
from tests.simulator.conftest import claims_of, form_value, redirect_params
from tests.simulator.flows import redeem, sign_in, submit_login
from tests.simulator.support import (
    ADMIN_UPN,
    NOCONSENT_APP_ID,
    NOCONSENT_SECRET,
    REDIRECT_URI,
    TENANT_ID,
    USER_UPN,
    WEB_APP_ID,
)

CONSENT_QUERY = {
    "client_id": NOCONSENT_APP_ID,
    "redirect_uri": REDIRECT_URI,
    "scope": "https://graph.microsoft.com/.default",
    "state": "adm-7",
}


def _consent_page(client: TestClient, upn: str) -> object:
    page = client.get(f"/{TENANT_ID}/v2.0/adminconsent?{urlencode(CONSENT_QUERY)}")
    return submit_login(client, page, upn)


def _decide(client: TestClient, page: object, choice: str) -> dict[str, str]:
    html = page.text  # type: ignore[attr-defined]
    action = re.findall(r'<form method="post" action="([^"]+)"', html)[0]
    return redirect_params(client.post(action, data={"ctx": form_value(html, "ctx"), "consent": choice}))


def _app_roles(client: TestClient) -> list[str]:
    response = client.post(
        f"/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": NOCONSENT_APP_ID,
            "client_secret": NOCONSENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    return list(claims_of(response.json()["access_token"]).get("roles", []))


def test_admin_consent_given(client: TestClient) -> None:
    assert _app_roles(client) == []
    page = _consent_page(client, ADMIN_UPN)
    assert "only an\nadmin can grant" in page.text and "User.Read.All (application)" in page.text  # type: ignore[attr-defined]
    params = _decide(client, page, "accept")
    assert params == {
        "admin_consent": "True",
        "tenant": TENANT_ID,
        "scope": "https://graph.microsoft.com/.default",
        "state": "adm-7",
    }
    assert _app_roles(client) == ["User.Read.All"]


def test_admin_consent_denied(client: TestClient) -> None:
    params = _decide(client, _consent_page(client, ADMIN_UPN), "cancel")
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS65004")
    assert params["admin_consent"] == "True" and params["state"] == "adm-7"
    assert "tenant" not in params
    assert _app_roles(client) == []


def test_admin_consent_failed_for_a_non_admin(client: TestClient) -> None:
    params = redirect_params(_consent_page(client, USER_UPN))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS90094")
    assert params["admin_consent"] == "True" and "tenant" not in params


def test_legacy_admin_consent_has_no_scope(client: TestClient) -> None:
    query = {k: v for k, v in CONSENT_QUERY.items() if k != "scope"}
    page = submit_login(client, client.get(f"/common/adminconsent?{urlencode(query)}"), ADMIN_UPN)
    params = _decide(client, page, "accept")
    assert params == {"admin_consent": "True", "tenant": TENANT_ID, "state": "adm-7"}


def test_admin_consent_on_common_v2_is_refused(client: TestClient) -> None:
    page = client.get(f"/common/v2.0/adminconsent?{urlencode(CONSENT_QUERY)}")
    assert page.status_code == 400 and "AADSTS90130" in page.text


def _groups(sim: Simulator, claims: dict) -> set[str]:
    tenant = sim.directory.tenants[TENANT_ID]
    return {tenant.groups[g].display_name if g in tenant.groups else g for g in claims.get("groups", [])}


def test_groups_claim_is_transitive_security_groups_by_object_id(client: TestClient, sim: Simulator) -> None:
    tokens = redeem(client, sign_in(client)["code"]).json()
    claims = claims_of(tokens["id_token"])
    # Verkoop directly, Alle verkoop through nesting, Finance; not the Microsoft 365 group
    assert _groups(sim, claims) == {"Verkoop", "Alle verkoop", "Finance"}


def test_groups_overage_past_the_limit(client: TestClient) -> None:
    client.patch("/_simulator/settings", json={"group_claim_limit": 2})
    claims = claims_of(redeem(client, sign_in(client)["code"]).json()["id_token"])
    assert "groups" not in claims
    assert claims["_claim_names"] == {"groups": "src1"}
    assert claims["_claim_sources"]["src1"]["endpoint"].endswith(f"/users/{claims['oid']}/getMemberObjects")


def test_sam_account_name_only_for_synced_groups(client: TestClient, sim: Simulator) -> None:
    app = sim.directory.apps[WEB_APP_ID]
    app.optional_claims = {"idToken": [{"name": "groups", "additionalProperties": ["sam_account_name"]}]}
    claims = claims_of(redeem(client, sign_in(client)["code"]).json()["id_token"])
    tenant = sim.directory.tenants[TENANT_ID]
    values = set(claims["groups"])
    assert "FIN-ALL" in values
    verkoop = next(g.id for g in tenant.groups.values() if g.display_name == "Verkoop")
    assert verkoop in values  # unsynced groups stay object ids (spec §7.4, configurable)


def test_admin_consent_by_someone_of_another_tenant_fails_with_50020(client: TestClient) -> None:
    params = redirect_params(_consent_page(client, "olga@fabrikam-sim.onmicrosoft.com"))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS50020") and "Fabrikam" not in params["error_description"]
    assert params["admin_consent"] == "True" and params["state"] == "adm-7" and "tenant" not in params

"""Graph reads: shapes, $select, paging, errors and permissions (issue 3 §3; spec §8.1-§8.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.simulator.graph.conftest import BASE, BIG_MEMBERS
from tests.simulator.support import (
    ADMIN_UPN,
    BIG_GROUP,
    NOCONSENT_APP_ID,
    NOCONSENT_SECRET,
    OLD_SECRET,
    TENANT_ID,
    USER_UPN,
    VERIFIED_DOMAIN,
    WEB_APP_ID,
    make_client_certificate,
)

USER_DEFAULT_KEYS = {
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
}


def _group_id(client: TestClient, headers: dict[str, str], name: str) -> str:
    body = client.get("/v1.0/groups", headers=headers, params={"$filter": f"displayName eq '{name}'"}).json()
    assert len(body["value"]) == 1, body
    return str(body["value"][0]["id"])


def _all_pages(client: TestClient, headers: dict[str, str], url: str) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["value"]
        pages += 1
        next_url = body.get("@odata.nextLink")
        if next_url:
            assert next_url.startswith(f"{BASE}/v1.0/") and "$skiptoken=" in next_url
    return items, pages


def test_organization_has_tenant_and_verified_domains(
    client: TestClient, app_token: Callable[..., str], grant_roles: Callable[..., None]
) -> None:
    headers = {"Authorization": f"Bearer {app_token()}"}
    assert client.get("/v1.0/organization", headers=headers).status_code == 403  # User.Read.All is not enough
    grant_roles("Organization.Read.All")
    headers = {"Authorization": f"Bearer {app_token()}"}
    response = client.get("/v1.0/organization", headers={**headers, "client-request-id": "abc-123"})
    assert response.status_code == 200
    assert response.headers["client-request-id"] == "abc-123"
    assert response.headers["request-id"] and response.headers["x-ms-ags-diagnostic"]
    body = response.json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#organization"
    (org,) = body["value"]
    assert org["id"] == TENANT_ID and org["tenantType"] == "AAD"
    default = [d["name"] for d in org["verifiedDomains"] if d["isDefault"]]
    assert default == [VERIFIED_DOMAIN]


def test_user_default_properties_and_select(client: TestClient, headers: dict[str, str]) -> None:
    user = client.get(f"/v1.0/users/{USER_UPN}", headers=headers).json()
    assert user["@odata.context"].endswith("$metadata#users/$entity")
    assert set(user) - {"@odata.context"} == USER_DEFAULT_KEYS
    assert user["jobTitle"] == "Accountmanager" and user["officeLocation"] is None
    selected = client.get(
        f"/v1.0/users/{user['id']}", headers=headers, params={"$select": "id,department,accountEnabled,otherMails"}
    ).json()
    assert {k: selected[k] for k in ("department", "accountEnabled", "otherMails")} == {
        "department": "Verkoop",
        "accountEnabled": True,
        "otherMails": [],
    }
    assert "displayName" not in selected


def test_unknown_select_property_is_a_bad_request(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1.0/users", headers=headers, params={"$select": "id,shoeSize"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_BadRequest"
    assert "shoeSize" in response.json()["error"]["message"]


def test_missing_user_is_graph_404_with_inner_error(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1.0/users/nobody@contoso.nl", headers=headers)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert "'nobody@contoso.nl' does not exist" in error["message"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    assert error["innerError"]["request-id"] == response.headers["request-id"]


def test_users_paging_follows_next_links(client: TestClient, headers: dict[str, str]) -> None:
    users, pages = _all_pages(client, headers, "/v1.0/users?$top=100&$select=id,userPrincipalName")
    assert pages == 3
    assert len(users) == len({u["id"] for u in users}) == BIG_MEMBERS + 4
    assert set(users[0]) == {"id", "userPrincipalName"}


def test_members_are_typed_and_paged(client: TestClient, headers: dict[str, str]) -> None:
    gid = _group_id(client, headers, BIG_GROUP)
    first = client.get(f"/v1.0/groups/{gid}/members", headers=headers).json()
    assert first["@odata.context"] == f"{BASE}/v1.0/$metadata#directoryObjects"
    assert len(first["value"]) == 100  # Graph's default page size
    assert first["value"][0]["@odata.type"] == "#microsoft.graph.user"
    members, pages = _all_pages(client, headers, f"/v1.0/groups/{gid}/members?$top=99&$select=id,displayName")
    assert pages == 3 and len(members) == len({m["id"] for m in members}) == BIG_MEMBERS
    assert set(members[-1]) == {"@odata.type", "id", "displayName"}


def test_top_above_999_is_the_real_400(client: TestClient, headers: dict[str, str]) -> None:
    gid = _group_id(client, headers, BIG_GROUP)
    response = client.get(f"/v1.0/groups/{gid}/members?$top=1000", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert "Must be between 1 and 999 inclusive" in response.json()["error"]["message"]
    assert client.get(f"/v1.0/groups/{gid}/members?$top=999", headers=headers).status_code == 200


def test_tampered_skiptoken_is_rejected(client: TestClient, headers: dict[str, str]) -> None:
    gid = _group_id(client, headers, BIG_GROUP)
    response = client.get(f"/v1.0/groups/{gid}/members?$skiptoken=bm9wZQ.AAAA", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_transitive_members_flatten_nested_groups(client: TestClient, headers: dict[str, str]) -> None:
    gid = _group_id(client, headers, "Alle verkoop")
    direct = client.get(f"/v1.0/groups/{gid}/members?$select=id,displayName", headers=headers).json()["value"]
    assert sorted(m["@odata.type"] for m in direct) == ["#microsoft.graph.group", "#microsoft.graph.user"]
    transitive = client.get(
        f"/v1.0/groups/{gid}/transitiveMembers?$select=userPrincipalName,displayName", headers=headers
    ).json()["value"]
    upns = {m.get("userPrincipalName") for m in transitive if m["@odata.type"] == "#microsoft.graph.user"}
    assert upns == {ADMIN_UPN, USER_UPN}
    assert any(m["@odata.type"] == "#microsoft.graph.group" and m["displayName"] == "Verkoop" for m in transitive)


def test_group_shape_and_count_needs_consistency_level(client: TestClient, headers: dict[str, str]) -> None:
    gid = _group_id(client, headers, "Marketing Team")
    group = client.get(f"/v1.0/groups/{gid}", headers=headers).json()
    assert group["groupTypes"] == ["Unified"] and group["securityEnabled"] is False
    assert group["mailNickname"] == "MarketingTeam" and group["membershipRule"] is None
    plain = client.get("/v1.0/groups?$count=true", headers=headers).json()
    assert "@odata.count" not in plain
    counted = client.get("/v1.0/groups?$count=true", headers={**headers, "ConsistencyLevel": "eventual"}).json()
    assert counted["@odata.count"] == len(counted["value"]) == 5


def test_missing_token_is_401_with_challenge(client: TestClient) -> None:
    response = client.get("/v1.0/users")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.json()["error"]["message"] == "Access token is empty."
    assert 'client_id="00000003-0000-0000-c000-000000000000"' in response.headers["www-authenticate"]


def test_forged_token_is_401(client: TestClient, app_token: Callable[..., str]) -> None:
    head, claims, _ = app_token().split(".")
    response = client.get("/v1.0/users", headers={"Authorization": f"Bearer {head}.{claims}.AAAA"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Access token validation failure."


def test_missing_permission_is_authorization_request_denied(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1.0/applications", headers=headers)  # the app has User.Read.All, GroupMember.Read.All
    assert response.status_code == 403
    assert response.json()["error"] == {
        **response.json()["error"],
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges to complete the operation.",
    }


def test_app_without_consent_gets_the_no_roles_error(client: TestClient, app_token: Callable[..., str]) -> None:
    token = app_token(NOCONSENT_APP_ID, NOCONSENT_SECRET)
    response = client.get("/v1.0/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Either scp or roles claim need to be present in the token."


def test_me_is_delegated_only(client: TestClient, headers: dict[str, str], user_token: Callable[..., str]) -> None:
    app_only = client.get("/v1.0/me", headers=headers)
    assert app_only.status_code == 400
    assert app_only.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."
    delegated = {"Authorization": f"Bearer {user_token(['User.Read'])}"}
    me = client.get("/v1.0/me", headers=delegated).json()
    assert me["userPrincipalName"] == USER_UPN
    assert client.get(f"/v1.0/users/{USER_UPN}", headers=delegated).status_code == 200  # oneself with User.Read
    assert client.get(f"/v1.0/users/{ADMIN_UPN}", headers=delegated).status_code == 403
    assert client.get("/v1.0/groups", headers=delegated).status_code == 403


def test_applications_show_secret_expiry(
    client: TestClient, app_token: Callable[..., str], grant_roles: Callable[..., None]
) -> None:
    grant_roles("Application.Read.All")
    headers = {"Authorization": f"Bearer {app_token()}"}
    apps = client.get(f"/v1.0/applications?$filter=appId eq '{WEB_APP_ID}'", headers=headers).json()["value"]
    (app,) = apps
    ends = {c["displayName"]: c["endDateTime"] for c in app["passwordCredentials"]}
    assert ends["old"] == "2024-01-01T00:00:00Z"
    assert all(c["secretText"] is None for c in app["passwordCredentials"])
    assert OLD_SECRET[:3] in {c["hint"] for c in app["passwordCredentials"]}
    assert app["keyCredentials"][0]["type"] == "AsymmetricX509Cert"
    by_app_id = client.get(f"/v1.0/applications(appId='{WEB_APP_ID}')", headers=headers).json()
    assert by_app_id["id"] == app["id"]
    sps = client.get(f"/v1.0/servicePrincipals?$filter=appId eq '{WEB_APP_ID}'", headers=headers).json()["value"]
    assert sps[0]["appId"] == WEB_APP_ID and sps[0]["appOwnerOrganizationId"] == TENANT_ID


def test_token_of_another_simulator_is_rejected(client: TestClient, headers: dict[str, str]) -> None:
    from entra_simulator.app import create_app
    from tests.simulator.support import new_simulator, sample_seed

    assert client.get(f"/v1.0/users/{USER_UPN}", headers=headers).status_code == 200
    other = new_simulator(sample_seed(make_client_certificate()))
    with TestClient(create_app(other), base_url=BASE) as other_client:
        response = other_client.get(f"/v1.0/users/{USER_UPN}", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "InvalidAuthenticationToken"

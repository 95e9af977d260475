"""Delta rounds for users and groups (issue 3 §3; spec §8.5): paging, changes, members@delta, token errors."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from entra_simulator.graph import delta
from entra_simulator.state import Simulator
from tests.simulator.graph.conftest import BASE, BIG_MEMBERS
from tests.simulator.support import BIG_GROUP, TENANT_ID, USER_UPN

ADMIN = f"/_simulator/tenants/{TENANT_ID}"


def _round(client: TestClient, headers: dict[str, str], url: str) -> tuple[list[dict[str, Any]], str, int]:
    """All items of one delta round, its deltaLink and the number of pages."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["value"]
        pages += 1
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]
        assert url.startswith(f"{BASE}/v1.0/") and "$skiptoken=" in url


def _group_id(client: TestClient, headers: dict[str, str], name: str) -> str:
    body = client.get("/v1.0/groups", headers=headers, params={"$filter": f"displayName eq '{name}'"}).json()
    return str(body["value"][0]["id"])


def test_users_round_then_exact_changes(client: TestClient, headers: dict[str, str]) -> None:
    users, link, pages = _round(client, headers, "/v1.0/users/delta?$select=displayName,jobTitle")
    assert len(users) == BIG_MEMBERS + 4 and pages == -(-len(users) // 10)
    assert set(users[0]) == {"id", "displayName", "jobTitle"}
    assert "$deltatoken=" in link and "$select" not in link  # the query lives in the token, as in Graph

    new = client.post(f"{ADMIN}/users", json={"userPrincipalName": "nieuw@contoso.nl", "displayName": "Nieuw"}).json()
    client.patch(f"{ADMIN}/users/{USER_UPN}", json={"jobTitle": "Teamleider"})
    gone = client.get("/v1.0/users/medewerker00007@contoso.nl", headers=headers).json()["id"]
    client.delete(f"{ADMIN}/users/medewerker00007@contoso.nl")

    changes, link2, _ = _round(client, headers, link)
    by_id = {c["id"]: c for c in changes}
    assert set(by_id) == {new["id"], gone, client.get(f"/v1.0/users/{USER_UPN}", headers=headers).json()["id"]}
    assert by_id[gone] == {"id": gone, "@removed": {"reason": "changed"}}
    assert by_id[new["id"]]["displayName"] == "Nieuw"
    assert any(c.get("jobTitle") == "Teamleider" for c in changes)
    assert _round(client, headers, link2)[0] == []  # nothing changed since


def test_delta_function_form_as_msgraph_sdk_calls_it(client: TestClient, headers: dict[str, str]) -> None:
    body = client.get("/v1.0/users/delta()?$deltatoken=latest", headers=headers).json()
    assert body["value"] == [] and "@odata.deltaLink" in body
    client.post(f"{ADMIN}/users", json={"userPrincipalName": "later@contoso.nl"})
    changes, _, _ = _round(client, headers, body["@odata.deltaLink"])
    assert [c["userPrincipalName"] for c in changes] == ["later@contoso.nl"]


def test_groups_round_slices_large_groups_and_reports_member_changes(
    client: TestClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delta, "MEMBERS_PER_ITEM", 100)
    big = _group_id(client, headers, BIG_GROUP)
    groups, link, _ = _round(client, headers, "/v1.0/groups/delta()")
    slices = [g for g in groups if g["id"] == big]
    assert len(slices) == 3 and all(s["displayName"] == BIG_GROUP for s in slices)
    member_ids = [m["id"] for s in slices for m in s["members@delta"]]
    assert len(member_ids) == len(set(member_ids)) == BIG_MEMBERS
    assert slices[0]["members@delta"][0]["@odata.type"] == "#microsoft.graph.user"

    client.post(f"{ADMIN}/groups/{big}/members", json={"member": USER_UPN})
    client.delete(f"{ADMIN}/groups/{big}/members/medewerker00003@contoso.nl")
    changes, _, _ = _round(client, headers, link)
    (item,) = changes
    assert item["id"] == big and item["displayName"] == BIG_GROUP
    delta_members = {m["id"]: m for m in item["members@delta"]}
    jan = client.get(f"/v1.0/users/{USER_UPN}", headers=headers).json()["id"]
    removed = client.get(f"/v1.0/groups/{big}/members?$top=999", headers=headers).json()["value"]
    assert jan in {m["id"] for m in removed}
    assert "@removed" not in delta_members[jan]
    (gone,) = [m for m in item["members@delta"] if "@removed" in m]
    assert gone["@removed"] == {"reason": "deleted"} and gone["id"] not in {m["id"] for m in removed}


def test_group_filter_and_select_without_members(client: TestClient, headers: dict[str, str]) -> None:
    verkoop = _group_id(client, headers, "Verkoop")
    url = f"/v1.0/groups/delta?$select=displayName&$filter=id eq '{verkoop}'"
    groups, link, _ = _round(client, headers, url)
    assert groups == [{"id": verkoop, "displayName": "Verkoop"}]
    client.post(f"{ADMIN}/groups/{verkoop}/members", json={"member": "medewerker00001@contoso.nl"})
    assert _round(client, headers, link)[0] == []  # membership is not tracked without members in $select
    tracked = _round(client, headers, f"/v1.0/groups/delta?$select=members&$filter=id eq '{verkoop}'")
    assert len(tracked[0][0]["members@delta"]) == 2


def test_expired_and_unknown_tokens_are_sync_state_not_found(
    client: TestClient, headers: dict[str, str], sim: Simulator
) -> None:
    link = client.get("/v1.0/users/delta?$deltatoken=latest", headers=headers).json()["@odata.deltaLink"]
    garbage = client.get("/v1.0/users/delta?$deltatoken=c29tZXRoaW5n.AAAA", headers=headers)
    assert garbage.status_code == 410 and garbage.json()["error"]["code"] == "syncStateNotFound"
    sim.settings.delta_token_ttl_seconds = 60
    now = sim.clock()
    sim.clock = lambda: now + 61  # type: ignore[method-assign]
    headers = {"Authorization": headers["Authorization"]}
    expired = client.get(link, headers=headers)
    assert expired.status_code == 410
    assert expired.json()["error"]["code"] == "syncStateNotFound"
    assert expired.json()["error"]["innerError"]["request-id"] == expired.headers["request-id"]


def test_users_token_is_not_a_groups_token(client: TestClient, headers: dict[str, str]) -> None:
    link = client.get("/v1.0/users/delta?$deltatoken=latest", headers=headers).json()["@odata.deltaLink"]
    token = link.split("$deltatoken=")[1]
    response = client.get(f"/v1.0/groups/delta?$deltatoken={token}", headers=headers)
    assert response.status_code == 410


def test_forced_resync_is_410_with_location(client: TestClient, headers: dict[str, str], sim: Simulator) -> None:
    link = client.get("/v1.0/users/delta?$select=displayName&$deltatoken=latest", headers=headers).json()
    sim.resync_required.add(TENANT_ID)
    response = client.get(link["@odata.deltaLink"], headers=headers)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "resyncRequired"
    location = response.headers["location"]
    assert location.startswith(f"{BASE}/v1.0/users/delta?") and "$select=displayName" in location
    users, _, _ = _round(client, headers, location)  # the fresh full sync works and the flag is used up
    assert len(users) == BIG_MEMBERS + 4 and set(users[0]) == {"id", "displayName"}


def test_prefer_minimal_shows_only_changed_properties(client: TestClient, headers: dict[str, str]) -> None:
    users_link = client.get("/v1.0/users/delta?$deltatoken=latest", headers=headers).json()["@odata.deltaLink"]
    groups_link = client.get("/v1.0/groups/delta?$deltatoken=latest", headers=headers).json()["@odata.deltaLink"]
    client.patch(f"{ADMIN}/users/{USER_UPN}", json={"jobTitle": "Directeur", "department": "Directie"})
    new = client.post(f"{ADMIN}/users", json={"userPrincipalName": "vers@contoso.nl", "givenName": "Vers"}).json()
    big = _group_id(client, headers, BIG_GROUP)
    client.post(f"{ADMIN}/groups/{big}/members", json={"member": "vers@contoso.nl"})
    minimal = {**headers, "Prefer": "return=minimal"}

    response = client.get(users_link, headers=minimal)
    assert response.headers["preference-applied"] == "return=minimal"
    by_id = {u["id"]: u for u in response.json()["value"]}
    jan = client.get(f"/v1.0/users/{USER_UPN}", headers=headers).json()["id"]
    assert by_id[jan] == {"id": jan, "jobTitle": "Directeur"}  # department is not in the default selection
    assert by_id[new["id"]]["givenName"] == "Vers" and "businessPhones" in by_id[new["id"]]  # created: all

    (group,) = _round(client, minimal, groups_link)[0]
    assert group == {"id": big, "members@delta": [{"@odata.type": "#microsoft.graph.user", "id": new["id"]}]}
    full = _round(client, headers, groups_link)[0][0]
    assert full["displayName"] == BIG_GROUP  # without the header: all selected properties

"""Teams members (spec §8.6) and B2B invitations (spec §8.7)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from entra_simulator.state import Simulator
from tests.simulator.support import DOMAIN, TENANT_ID


def _group_id(client: TestClient, headers: dict[str, str], name: str) -> str:
    body = client.get("/v1.0/groups", headers=headers, params={"$filter": f"displayName eq '{name}'"}).json()
    return str(body["value"][0]["id"])


def test_team_members_are_conversation_members(
    client: TestClient, app_token: Callable[..., str], grant_roles: Callable[..., None], sim: Simulator
) -> None:
    grant_roles("TeamMember.Read.All")
    headers = {"Authorization": f"Bearer {app_token()}"}
    team = _group_id(client, headers, "Marketing Team")
    tenant = sim.directory.tenants[TENANT_ID]
    guest = tenant.find_user(f"sam_fabrikam.example#EXT#@{DOMAIN}")
    assert guest is not None
    sim.directory.add_member(tenant, tenant.groups[team], guest.id)
    body = client.get(f"/v1.0/teams/{team}/members", headers=headers).json()
    assert body["@odata.count"] == 2 and body["@odata.context"].endswith(f"$metadata#teams('{team}')/members")
    by_mail = {m["email"]: m for m in body["value"]}
    assert by_mail["sam@fabrikam.example"]["roles"] == ["guest"]
    assert by_mail["jan.devries@contoso.nl"]["roles"] == []
    assert all(m["@odata.type"] == "#microsoft.graph.aadUserConversationMember" for m in body["value"])
    security_group = _group_id(client, headers, "Verkoop")
    missing = client.get(f"/v1.0/teams/{security_group}/members", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"


def test_invitation_creates_a_pending_guest(
    client: TestClient, app_token: Callable[..., str], grant_roles: Callable[..., None]
) -> None:
    denied = client.post(
        "/v1.0/invitations", headers={"Authorization": f"Bearer {app_token()}"}, json={"invitedUserEmailAddress": "x"}
    )
    assert denied.status_code == 403
    grant_roles("User.Invite.All")
    headers = {"Authorization": f"Bearer {app_token()}"}
    invitation = {"invitedUserEmailAddress": "kim@partner.example", "inviteRedirectUrl": "https://app.example"}
    response = client.post("/v1.0/invitations", headers=headers, json=invitation)
    assert response.status_code == 201
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#invitations/$entity")
    assert body["status"] == "PendingAcceptance" and body["inviteRedeemUrl"].startswith(
        "https://login.microsoftonline.com/redeem?rd="
    )
    guest = client.get(
        f"/v1.0/users/{body['invitedUser']['id']}",
        headers=headers,
        params={"$select": "userPrincipalName,userType,externalUserState,creationType,mail"},
    ).json()
    assert guest["userPrincipalName"] == f"kim_partner.example#EXT#@{DOMAIN}"
    assert (guest["userType"], guest["externalUserState"], guest["creationType"]) == (
        "Guest",
        "PendingAcceptance",
        "Invitation",
    )
    bad = client.post("/v1.0/invitations", headers=headers, json={"invitedUserEmailAddress": "kim@partner.example"})
    assert bad.status_code == 400 and "inviteRedirectUrl" in bad.json()["error"]["message"]

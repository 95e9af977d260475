"""A user's groups: /users/{id}/memberOf and /transitiveMemberOf (the groups-overage fallback), and guests."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from entra_simulator.seed import load, read_seed
from entra_simulator.state import Simulator
from tests.simulator.support import TENANT_ID, USER_UPN


def _names(response: object) -> set[str]:
    return {g["displayName"] for g in response.json()["value"]}  # type: ignore[attr-defined]


def test_member_of_direct_and_transitive(client: TestClient, headers: dict[str, str], sim: Simulator) -> None:
    user = sim.directory.tenants[TENANT_ID].find_user(USER_UPN)
    assert user is not None
    direct = client.get(f"/v1.0/users/{user.id}/memberOf", headers=headers)
    assert direct.status_code == 200 and "Alle verkoop" not in _names(direct) and "Verkoop" in _names(direct)
    transitive = client.get(f"/v1.0/users/{USER_UPN}/transitiveMemberOf/microsoft.graph.group", headers=headers)
    assert {"Verkoop", "Alle verkoop", "Finance"} <= _names(transitive)
    assert all(g["@odata.type"] == "#microsoft.graph.group" for g in transitive.json()["value"])
    assert client.get(f"/v1.0/users/{user.id}/ownedObjects", headers=headers).status_code == 400


def test_member_of_needs_a_permission(client: TestClient, user_token: Callable[..., str]) -> None:
    mine = client.get("/v1.0/me/transitiveMemberOf", headers={"Authorization": f"Bearer {user_token(['User.Read'])}"})
    assert mine.status_code == 200 and "Verkoop" in _names(mine)
    other = client.get(
        "/v1.0/users/anna.admin@contoso-sim.onmicrosoft.com/memberOf",
        headers={"Authorization": f"Bearer {user_token(['User.Read'])}"},
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "Authorization_RequestDenied"


def test_faulted_graph_errors_carry_request_ids(client: TestClient, headers: dict[str, str], sim: Simulator) -> None:
    from entra_simulator.faults import FaultRule

    sim.faults.add(FaultRule("throttle", tenant=TENANT_ID, endpoint="/v1.0/users", retry_after=3))
    response = client.get("/v1.0/users", headers=headers)
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    inner = response.json()["error"]["innerError"]
    assert inner["request-id"] == response.headers["request-id"] and inner["date"]


def test_seed_details(tmp_path: object) -> None:
    from entra_simulator.generate import Options, generate, to_yaml

    seed = {
        "tenants": [
            {
                "displayName": "T",
                "domains": ["t-sim.onmicrosoft.com"],
                "users": [
                    {
                        "userPrincipalName": "sam_fabrikam.example#EXT#@t-sim.onmicrosoft.com",
                        "userType": "Guest",
                        "mail": "sam@fabrikam.example",
                    },
                ],
                "groups": [
                    {"displayName": "Team", "groupTypes": ["Unified"], "members": ["sam@fabrikam.example"]},
                ],
            }
        ]
    }
    tenant = next(iter(load(seed).tenants.values()))
    team = next(iter(tenant.groups.values()))
    assert team.props["mailEnabled"] is True and team.props["mail"] == "Team@t-sim.onmicrosoft.com"
    assert len(team.members) == 1, "a guest named by their e-mail address is a member"

    big = generate(Options(users=6000, groups=10))
    path = tmp_path / "big.yaml"  # type: ignore[operator]
    path.write_text(to_yaml(big))
    assert read_seed(path) == big, "the generated one-line YAML reads back exactly"
    import yaml

    assert yaml.safe_load(path.read_text()) == big, "and is still YAML"

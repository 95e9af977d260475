"""msal.ConfidentialClientApplication against the simulator, with only the authority changed (issue 3 §5)."""

from __future__ import annotations

import msal

from tests.simulator.support import TENANT_ID, WEB_APP_ID, WEB_SECRET, SimulatorHandle

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

"""The login's three requests go through ``SsoLoginApp`` (in front of FastAPI); everything else does not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.sso.conftest import Setup


def count(koppel: TestClient, route: str, status: int) -> float:
    for line in koppel.get("/metrics").text.splitlines():
        if (
            line.startswith("koppel_http_requests_total{")
            and f'route="{route}"' in line
            and f'status="{status}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_login_requests_are_answered_and_counted_under_their_route(koppel: TestClient, platform: Setup) -> None:
    started = koppel.get(platform.host.authorize_url(organization="contoso"), follow_redirects=False)
    assert started.status_code == 303 and "/oauth2/v2.0/authorize" in started.headers["location"]
    assert count(koppel, "/oauth2/authorize", 303) == 1
    unknown_state = koppel.get(f"/sso/callback/{platform.connection_id}?state=nope&code=x")
    assert unknown_state.status_code == 403 and "Sign-in failed" in unknown_state.text
    assert count(koppel, "/sso/callback/{connection_id}", 403) == 1
    bad_client = koppel.post("/oauth2/token", data={"grant_type": "authorization_code", "code": "x"}, auth=("no", "no"))
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    assert count(koppel, "/oauth2/token", 401) == 1


def test_other_methods_and_paths_still_reach_fastapi(koppel: TestClient) -> None:
    assert koppel.get("/oauth2/token").status_code == 405
    assert koppel.post("/oauth2/authorize").status_code == 405
    assert koppel.get("/sso/callback/a/b").status_code == 404
    assert koppel.get("/.well-known/openid-configuration").json()["token_endpoint"].endswith("/oauth2/token")

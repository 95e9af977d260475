"""koppel as OpenID Provider: discovery, refresh rotation, end-session, key rotation, redirects (issue 5 §1, §2, §7)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from sqlalchemy.orm import Session

from koppel.db.base import utcnow
from koppel.sso import keys
from koppel.sso.cache import KEY_TTL_SECONDS, SsoCache
from tests.simulator.support import PASSWORD, USER_UPN
from tests.sso.conftest import Setup
from tests.sso.flows import KOPPEL, Browser, HostApp, entra_login, hidden_inputs, sign_in
from tests.sso.test_platform_login import verify_id_token

Db = Callable[[], AbstractContextManager[Session]]


def refresh(koppel: TestClient, host: HostApp, token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return koppel.post("/oauth2/token", data=data, auth=(host.client_id, host.client_secret))


def test_discovery_document_names_koppels_endpoints(koppel: TestClient) -> None:
    doc = koppel.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == KOPPEL and doc["jwks_uri"] == f"{KOPPEL}/oauth2/jwks"
    assert doc["code_challenge_methods_supported"] and doc["end_session_endpoint"] == f"{KOPPEL}/oauth2/logout"
    assert {"org", "roles", "groups", "idp", "amr"} <= set(doc["claims_supported"])


def test_refresh_rotates_and_a_replayed_token_revokes_the_family(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup
) -> None:
    first = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso").json()
    second = refresh(koppel, platform.host, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert refresh(koppel, platform.host, first["refresh_token"]).json()["error"] == "invalid_grant"
    # the replay revoked the session's tokens, the new one included
    assert refresh(koppel, platform.host, second.json()["refresh_token"]).status_code == 400


def test_code_is_single_use_and_needs_the_pkce_verifier(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup
) -> None:
    host = platform.host
    code = host.code_from(
        Browser(koppel, idp_http, entra_login(USER_UPN, PASSWORD)).go(host.authorize_url(organization="contoso"))
    )
    wrong = host.redeem(koppel, code, code_verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    fresh = HostApp(host.client_id, host.client_secret)
    code = fresh.code_from(
        Browser(koppel, idp_http, entra_login(USER_UPN, PASSWORD)).go(fresh.authorize_url(organization="contoso"))
    )
    assert fresh.redeem(koppel, code).status_code == 200
    assert fresh.redeem(koppel, code).json()["error"] == "invalid_grant"
    bad_secret = koppel.post(
        "/oauth2/token", data={"grant_type": "authorization_code", "code": "x"}, auth=(host.client_id, "nope")
    )
    assert bad_secret.status_code == 401


def test_end_session_redirects_only_to_a_registered_uri_and_stops_refresh(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup
) -> None:
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso").json()
    evil = koppel.get(
        "/oauth2/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
        follow_redirects=False,
    )
    assert evil.status_code == 400 and "location" not in evil.headers
    done = koppel.get(
        "/oauth2/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://app.example/bye",
            "state": "s1",
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "https://app.example/bye?state=s1"
    assert refresh(koppel, platform.host, tokens["refresh_token"]).status_code == 400
    access = tokens["access_token"]
    assert koppel.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_unregistered_redirect_uri_is_an_error_page_not_a_redirect(koppel: TestClient, platform: Setup) -> None:
    host = HostApp(platform.host.client_id, platform.host.client_secret, redirect_uri="https://evil.example/cb")
    response = koppel.get(host.authorize_url(organization="contoso"), follow_redirects=False)
    assert response.status_code == 400 and "evil.example" not in response.headers.get("location", "")
    unknown = HostApp("kpc_unknown", "x").authorize_url(organization="contoso")
    assert koppel.get(unknown, follow_redirects=False).status_code == 400


def test_key_rotation_keeps_old_tokens_verifiable(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup, sso_app: FastAPI, db: Db
) -> None:
    before = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso").json()
    first = koppel.get("/oauth2/jwks").json()["keys"]  # a key of each algorithm from the start
    assert sorted(k["alg"] for k in first) == ["ES256", "RS256"]
    with db() as session:  # as `koppel client rotate-signing-key` does, from another process
        rotated = keys.rotate_keys(session=session, secret_box=sso_app.state.secret_box, now=utcnow())
    # The server reads the current key at most once per cache period (KEY_TTL_SECONDS); until
    # then it signs with the retired key, which the JWKS still serves.
    during = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso").json()
    cache: SsoCache = sso_app.state.sso_cache
    cache.clock = lambda: time.monotonic() + KEY_TTL_SECONDS + 1
    after = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso").json()
    kid = {n: jwt.decode(t["id_token"], verify_id_keys(koppel)).header["kid"] for n, t in
           (("before", before), ("during", during), ("after", after))}  # fmt: skip
    assert kid["before"] in rotated["retired"] and kid["during"] == kid["before"] and kid["after"] == rotated["kid"]
    served = koppel.get("/oauth2/jwks").json()["keys"]  # each algorithm's current key and the one it replaced
    assert sorted(k["alg"] for k in served) == ["ES256", "ES256", "RS256", "RS256"]
    assert set(rotated["kids"].values()) | set(rotated["retired"]) == {k["kid"] for k in served}
    verify_id_token(koppel, before["id_token"])


def verify_id_keys(koppel: TestClient):  # type: ignore[no-untyped-def]
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(koppel.get("/oauth2/jwks").json())


def test_login_hint_finds_the_organization_by_domain(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup
) -> None:
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, login_hint=USER_UPN)
    assert verify_id_token(koppel, tokens.json()["id_token"])["org"]["slug"] == "contoso"


def test_typed_email_on_the_discovery_page_with_csrf(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup
) -> None:
    host = HostApp(platform.host.client_id, platform.host.client_secret)
    page = koppel.get(host.authorize_url(), follow_redirects=True)
    assert page.status_code == 200 and 'name="email"' in page.text
    fields = hidden_inputs(page.text)
    forged = koppel.post(
        "/sso/discover", data={**fields, "csrf_token": "forged", "email": USER_UPN}, follow_redirects=False
    )
    assert forged.status_code == 400
    unknown = koppel.post("/sso/discover", data={**fields, "email": "x@nowhere.example"}, follow_redirects=False)
    assert unknown.status_code == 404
    sent = koppel.post("/sso/discover", data={**fields, "email": USER_UPN}, follow_redirects=False)
    landed = Browser(koppel, idp_http, entra_login(USER_UPN, PASSWORD)).go(
        str(sent.request.url.join(sent.headers["location"]))
    )
    assert host.redeem(koppel, host.code_from(landed)).status_code == 200


def test_entry_link_starts_the_host_apps_login_for_the_organization(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup
) -> None:
    entry = koppel.get("/sso/contoso", follow_redirects=False)
    target = urlsplit(entry.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://app.example/login"
    assert parse_qs(target.query)["iss"] == [KOPPEL]
    # the host app's login route starts a plain authorization request: the organization comes from the link
    host = HostApp(platform.host.client_id, platform.host.client_secret)
    landed = Browser(koppel, idp_http, entra_login(USER_UPN, PASSWORD)).go(host.authorize_url())
    assert host.redeem(koppel, host.code_from(landed)).status_code == 200
    assert koppel.get("/sso/nope", follow_redirects=False).status_code == 404


def test_callback_with_a_forged_state_fails_with_an_event(koppel: TestClient, platform: Setup) -> None:
    response = koppel.get(f"/sso/callback/{platform.connection_id}", params={"state": "forged", "code": "x"})
    assert response.status_code == 403 and "state" in response.text

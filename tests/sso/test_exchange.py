"""POST /api/v1/token/exchange (issue 5 §6, seed 003): Entra API token → koppel tokens, optional Graph via OBO."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.db.base import utcnow
from koppel.errors import InvalidInput
from koppel.events.models import Event
from koppel.organizations import service as org_service
from koppel.organizations.models import Connection, Organization
from koppel.sso import clients, connections
from koppel.sso.exchange import WELL_KNOWN_CLIENT_APPS
from tests.simulator.support import (
    API_APP_ID,
    API_SECRET,
    API_URI,
    PASSWORD,
    REDIRECT_URI,
    TENANT_ID,
    USER_UPN,
    VERIFIED_DOMAIN,
    WEB_APP_ID,
    WEB_SECRET,
    SimulatorHandle,
)
from tests.sso.flows import entra_login
from tests.sso.test_platform_login import verify_id_token

Db = Callable[[], AbstractContextManager[Session]]


def entra_token(entra: SimulatorHandle, scope: str) -> str:
    """What Teams hands the tab: a delegated token of the signed-in user for the app's API."""
    with entra.http() as http:
        page = http.get(
            f"/{TENANT_ID}/oauth2/v2.0/authorize",
            params={"client_id": WEB_APP_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": scope},
        )
        filled = entra_login(USER_UPN, PASSWORD)(page)
        assert filled is not None, page.text[:300]
        answer = http.post(str(page.request.url.join(filled[0])), data=filled[1])
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "scope": scope}
        token = http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=data, auth=(WEB_APP_ID, WEB_SECRET))
        return str(token.json()["access_token"])


@pytest.fixture
def api_client(sso_app: FastAPI, db: Db, entra: SimulatorHandle) -> tuple[str, str]:
    box = sso_app.state.secret_box
    with db() as session:
        org = org_service.create_organization(
            session=session, slug="contoso", fields=org_service.OrganizationFields(name="Contoso"),
            domains=[VERIFIED_DOMAIN], now=utcnow(),
        )  # fmt: skip
        org.settings = {"sso_provisioning": "jit"}
        # The simulator's web app stands for the client that gets the token (Teams, or the host's SPA).
        app = connections.EntraApp(
            f"{entra.url}/{TENANT_ID}/", API_APP_ID, API_SECRET, None, [API_URI, API_APP_ID], [WEB_APP_ID]
        )
        connections.add_entra_app(session=session, secret_box=box, org=org.id, app=app, now=utcnow())
        client, secret = clients.create_client(
            session=session, name="Teams tab", redirect_uris=["https://app.example/cb"], now=utcnow()
        )
        return client.client_id, secret


def test_api_token_becomes_koppel_tokens_and_a_graph_token(
    koppel: TestClient, entra: SimulatorHandle, api_client: tuple[str, str]
) -> None:
    token = entra_token(entra, f"{API_URI}/access_as_user")
    response = koppel.post("/api/v1/token/exchange", data={"subject_token": token, "graph": "true"}, auth=api_client)
    assert response.status_code == 200, response.text
    body = response.json()
    claims = verify_id_token(koppel, body["id_token"])
    assert claims["email"] == USER_UPN and claims["org"]["slug"] == "contoso" and claims["aud"] == api_client[0]
    graph = body["graph"]["access_token"]
    me = httpx.get(f"{entra.url}/v1.0/me", headers={"Authorization": f"Bearer {graph}"}, verify=str(entra.ca_bundle))
    assert me.json()["userPrincipalName"] == USER_UPN


def test_tokens_for_another_audience_or_client_are_refused(
    koppel: TestClient, entra: SimulatorHandle, api_client: tuple[str, str], db: Db
) -> None:
    graph_token = entra_token(entra, "User.Read")  # a Graph token, not one for the host app's API
    refused = koppel.post("/api/v1/token/exchange", data={"subject_token": graph_token}, auth=api_client)
    assert refused.status_code == 401 and refused.json()["reason"] in ("aud", "signature", "kid")
    good = entra_token(entra, f"{API_URI}/access_as_user")
    assert (
        koppel.post("/api/v1/token/exchange", data={"subject_token": good}, auth=(api_client[0], "x")).status_code
        == 401
    )
    forged = good[:-8] + ("A" * 8 if not good.endswith("A" * 8) else "B" * 8)
    bad_sig = koppel.post("/api/v1/token/exchange", data={"subject_token": forged}, auth=api_client)
    assert bad_sig.status_code == 401 and bad_sig.json()["reason"] == "signature"
    with db() as session:
        failures = session.scalars(select(Event).where(Event.type == "sso.login.failed")).all()
    assert [e.data["reason"] for e in failures] == [refused.json()["reason"], "signature"]


def test_only_allowed_client_apps_may_present_tokens(
    koppel: TestClient, entra: SimulatorHandle, api_client: tuple[str, str], db: Db
) -> None:
    token = entra_token(entra, f"{API_URI}/access_as_user")  # obtained by WEB_APP_ID (azp)

    def exchange() -> httpx.Response:
        return koppel.post("/api/v1/token/exchange", data={"subject_token": token}, auth=api_client)

    def allow(*, connection: list[str] | None, organization: list[str] | None) -> None:
        with db() as session:
            row = session.scalars(select(Connection).where(Connection.kind == "entra")).one()
            row.settings = {**row.settings, "api_client_apps": connection}
            org = session.get_one(Organization, row.org_id)
            org.settings = {**(org.settings or {}), "api_client_apps": organization}

    assert exchange().status_code == 200  # the connection allows WEB_APP_ID
    allow(connection=None, organization=None)  # nothing configured: only Microsoft's Teams and Office apps
    refused = exchange()
    assert refused.status_code == 401 and refused.json()["reason"] == "client_app"
    assert WEB_APP_ID in refused.json()["detail"] and "--api-client-app" in refused.json()["detail"]
    assert "1fec8e78-bce4-4aaf-ab1b-5451cc387264" in WELL_KNOWN_CLIENT_APPS  # Teams desktop/mobile
    allow(connection=None, organization=[WEB_APP_ID.upper()])  # per organization, any case
    assert exchange().status_code == 200
    allow(connection=["5e3ce6c0-2b1f-4285-8d4b-75ee78787346"], organization=[WEB_APP_ID])  # the connection's wins
    assert exchange().json()["reason"] == "client_app"
    with db() as session:
        failures = session.scalars(select(Event).where(Event.type == "sso.login.failed")).all()
    assert [e.data["reason"] for e in failures] == ["client_app", "client_app"]


def test_client_app_ids_are_checked_when_the_connection_is_added(sso_app: FastAPI, db: Db) -> None:
    with db() as session, pytest.raises(InvalidInput, match="not a GUID"):
        org = org_service.create_organization(
            session=session, slug="fabrikam", fields=org_service.OrganizationFields(name="Fabrikam"), now=utcnow()
        )
        app = connections.EntraApp(
            f"https://login.example/{TENANT_ID}/", API_APP_ID, API_SECRET, None, [API_URI], ["teams"]
        )
        connections.add_entra_app(
            session=session, secret_box=sso_app.state.secret_box, org=org.id, app=app, now=utcnow()
        )

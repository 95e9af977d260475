"""Groups overage (spec §7.4): past the limit the token names a claim source; koppel asks Graph, or its directory.

The simulator's Graph has no ``/users/{id}/transitiveMemberOf`` yet, so Graph is an injected httpx
transport here (the token for it still comes from the simulator's client-credentials grant).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from entra_simulator.server import TlsFiles
from koppel.sso.upstream.fetcher import UpstreamFetcher
from tests.simulator.support import PASSWORD, TENANT_ID, USER_UPN, SimulatorHandle
from tests.sso.conftest import Setup
from tests.sso.flows import sign_in
from tests.sso.test_access import Db, sync_jan
from tests.sso.test_platform_login import verify_id_token

GRAPH = "https://graph.test"


@pytest.fixture
def overage(entra: SimulatorHandle) -> Iterator[None]:
    with entra.http() as http:
        http.patch("/_simulator/settings", json={"group_claim_limit": 1}).raise_for_status()
        yield
        http.patch("/_simulator/settings", json={"group_claim_limit": 200}).raise_for_status()


@pytest.fixture
def graph_calls(sso_app: FastAPI, tls_files: TlsFiles, entra: SimulatorHandle) -> list[httpx.Request]:
    calls: list[httpx.Request] = []
    jan = entra.sim.directory.tenants[TENANT_ID].find_user(USER_UPN)
    assert jan is not None
    groups = [g for g in entra.sim.directory.tenants[TENANT_ID].groups.values() if jan.id in g.members]

    def graph(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        assert request.headers["authorization"].startswith("Bearer ey")
        if "transitiveMemberOf" not in request.url.path:
            return httpx.Response(404, json={"error": {"code": "Request_ResourceNotFound"}})
        value: list[dict[str, Any]] = [{"id": g.id, "displayName": g.props["displayName"]} for g in groups]
        return httpx.Response(200, json={"value": value})

    client = httpx.Client(verify=str(tls_files.ca_bundle), mounts={GRAPH: httpx.MockTransport(graph)})
    sso_app.state.sso_fetcher = UpstreamFetcher(client=client)
    sso_app.state.settings = sso_app.state.settings.model_copy(update={"graph_url": GRAPH})
    return calls


def test_overage_is_resolved_through_graph_with_names(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup, overage: None, graph_calls: list[httpx.Request]
) -> None:
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    assert tokens.status_code == 200, tokens.text[:400]
    claims = verify_id_token(koppel, tokens.json()["id_token"])
    assert {"Verkoop", "Finance"} <= set(claims["groups"])
    assert any("transitiveMemberOf" in c.url.path for c in graph_calls)


def test_overage_for_a_synced_user_uses_the_directory(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup, overage: None, graph_calls: list[httpx.Request],
    db: Db, entra: SimulatorHandle,
) -> None:  # fmt: skip
    sync_jan(db, entra, platform)
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    assert "Verkoop" in verify_id_token(koppel, tokens.json()["id_token"])["groups"]
    assert not [c for c in graph_calls if "transitiveMemberOf" in c.url.path]

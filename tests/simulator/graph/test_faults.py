"""Fault injection on Graph routes over real HTTP (issue 3 §4): per tenant and endpoint, deterministic by seed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from entra_simulator.state import Simulator
from tests.simulator.support import (
    OTHER_TENANT_ID,
    TENANT_ID,
    USER_UPN,
    WEB_APP_ID,
    WEB_SECRET,
    ClientCertificate,
    SimulatorHandle,
    new_simulator,
    running,
    sample_seed,
)


@pytest.fixture
def server(certificate: ClientCertificate) -> Iterator[SimulatorHandle]:
    with running(new_simulator(sample_seed(certificate, big_group_members=20))) as handle:
        yield handle


def _token(http: httpx.Client) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": WEB_APP_ID,
        "client_secret": WEB_SECRET,
        "scope": "https://graph.microsoft.com/.default",
    }
    response = http.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _fault(http: httpx.Client, **spec: Any) -> None:
    assert http.post("/_simulator/faults", json=spec).status_code == 201


def _members_url(http: httpx.Client, headers: dict[str, str]) -> str:
    group = http.get("/v1.0/groups?$filter=displayName eq 'Verkoop'", headers=headers).json()["value"][0]
    return f"/v1.0/groups/{group['id']}/members"


def test_throttling_hits_only_the_chosen_tenant_and_endpoint(server: SimulatorHandle) -> None:
    with server.http() as http:
        headers = _token(http)
        members = _members_url(http, headers)
        _fault(http, kind="throttle", tenant=TENANT_ID, endpoint="members", retry_after=7)
        throttled = http.get(members, headers=headers)
        assert throttled.status_code == 429 and throttled.headers["retry-after"] == "7"
        assert throttled.json()["error"]["code"] == "TooManyRequests"
        ok = http.get(f"/v1.0/users/{USER_UPN}", headers=headers)
        assert ok.headers["date"] and ok.headers["request-id"]  # Graph's headers over real HTTP
        missing = http.get("/v1.0/users/nobody@contoso.nl", headers=headers)
        assert missing.status_code == 404 and missing.headers["date"] and missing.headers["request-id"]
        assert http.get(f"/v1.0/users/{USER_UPN}", headers=headers).status_code == 200  # other endpoint
        _fault(http, kind="throttle", tenant=OTHER_TENANT_ID, endpoint="users")
        assert http.get("/v1.0/users", headers=headers).status_code == 200  # other tenant's rule
        assert http.delete("/_simulator/faults").json()["cleared"] == 2
        assert http.get(members, headers=headers).status_code == 200


def test_counted_5xx_then_recovery_and_latency(server: SimulatorHandle) -> None:
    with server.http() as http:
        headers = _token(http)
        _fault(http, kind="error", endpoint="graph", status=503, count=2, retry_after=1)
        statuses = [http.get("/v1.0/users", headers=headers).status_code for _ in range(3)]
        assert statuses == [503, 503, 200]
        _fault(http, kind="latency", endpoint="users", latency_ms=300)
        started = time.monotonic()
        assert http.get("/v1.0/users", headers=headers).status_code == 200
        assert time.monotonic() - started >= 0.3


def test_truncated_body_breaks_the_response(server: SimulatorHandle) -> None:
    with server.http() as http:
        headers = _token(http)
        _fault(http, kind="truncate", endpoint="users", count=1)
        with pytest.raises(httpx.TransportError):
            http.get("/v1.0/users", headers=headers)
    with server.http() as http:
        assert http.get("/v1.0/users", headers=headers).status_code == 200


def test_dropped_connection_is_a_transport_error(server: SimulatorHandle) -> None:
    with server.http() as http:
        headers = _token(http)
        _fault(http, kind="drop", endpoint="users", count=1)
        with pytest.raises(httpx.TransportError):
            http.get("/v1.0/users", headers=headers)


def _pattern(certificate: ClientCertificate, seed: int) -> list[int]:
    sim: Simulator = new_simulator(sample_seed(certificate))
    with running(sim) as handle, handle.http() as http:
        headers = _token(http)
        _fault(http, kind="throttle", endpoint="graph", rate=0.5, seed=seed)
        return [http.get("/v1.0/users?$top=1", headers=headers).status_code for _ in range(16)]


def test_faults_are_deterministic_from_the_seed(certificate: ClientCertificate) -> None:
    first = _pattern(certificate, 42)
    assert first == _pattern(certificate, 42)
    assert set(first) == {200, 429}
    assert first != _pattern(certificate, 7)

"""Fault injection over real HTTP (issue 3 §4): throttling, 5xx, latency, dropped and truncated responses."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from entra_simulator.state import Simulator
from tests.simulator.support import OTHER_TENANT_ID, TENANT_ID, SimulatorHandle, running

DISCOVERY = "/{}/v2.0/.well-known/openid-configuration"


@pytest.fixture
def live(sim: Simulator) -> Iterator[SimulatorHandle]:
    with running(sim) as handle:
        yield handle


def set_fault(http: httpx.Client, **rule: object) -> dict:
    response = http.post("/_simulator/faults", json=rule)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_throttle_per_tenant_with_retry_after_and_count(live: SimulatorHandle) -> None:
    with live.http() as http:
        set_fault(http, kind="throttle", tenant=TENANT_ID, endpoint="discovery", retry_after=3, count=2)
        first = http.get(DISCOVERY.format(TENANT_ID))
        assert first.status_code == 429 and first.headers["retry-after"] == "3"
        assert first.json()["error"] == "temporarily_unavailable"
        assert http.get(DISCOVERY.format(OTHER_TENANT_ID)).status_code == 200  # other tenant untouched
        assert http.get(DISCOVERY.format(TENANT_ID)).status_code == 429
        assert http.get(DISCOVERY.format(TENANT_ID)).status_code == 200  # count used up
        assert http.get("/_simulator/faults").json()[0]["count"] == 0


def test_graph_throttle_has_graphs_error_shape(live: SimulatorHandle) -> None:
    with live.http() as http:
        set_fault(http, kind="throttle", endpoint="graph")
        response = http.get("/v1.0/users")
        assert response.status_code == 429 and response.json()["error"]["code"] == "TooManyRequests"


def test_rate_is_deterministic_from_the_seed(live: SimulatorHandle) -> None:
    def pattern() -> list[int]:
        with live.http() as http:
            http.delete("/_simulator/faults")
            set_fault(http, kind="error", endpoint="keys", rate=0.5, seed=42)
            return [http.get("/common/discovery/v2.0/keys").status_code for _ in range(16)]

    first = pattern()
    assert first == pattern()
    assert set(first) == {200, 503}


def test_latency(live: SimulatorHandle) -> None:
    with live.http() as http:
        set_fault(http, kind="latency", endpoint="keys", latency_ms=300)
        started = time.perf_counter()
        assert http.get("/common/discovery/v2.0/keys").status_code == 200
        assert time.perf_counter() - started >= 0.3


def test_dropped_connection_and_truncated_body(live: SimulatorHandle) -> None:
    with live.http() as http:
        set_fault(http, kind="drop", endpoint="keys", count=1)
        with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
            http.get("/common/discovery/v2.0/keys")
        assert http.get("/common/discovery/v2.0/keys").status_code == 200
        set_fault(http, kind="truncate", endpoint="keys", count=1)
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/common/discovery/v2.0/keys")
        assert http.get("/common/discovery/v2.0/keys").status_code == 200


def test_admin_api_is_never_faulted_and_bad_rules_are_explained(live: SimulatorHandle) -> None:
    with live.http() as http:
        set_fault(http, kind="error")
        assert http.get("/_simulator/faults").status_code == 200
        bad = http.post("/_simulator/faults", json={"kind": "explode"})
        assert bad.status_code == 400 and "unknown fault kind" in bad.json()["detail"]
        assert http.delete("/_simulator/faults").json() == {"cleared": 1}

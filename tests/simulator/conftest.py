"""Fixtures for the simulator's own tests: a fresh directory per test, in-process or over real HTTP."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

from entra_simulator.app import create_app
from entra_simulator.keys import KeySet
from entra_simulator.state import Simulator
from tests.simulator.support import ClientCertificate, make_client_certificate, new_simulator, sample_seed

ORIGIN = "https://login.simulator.test"


@pytest.fixture(scope="session")
def client_certificate() -> ClientCertificate:
    return make_client_certificate()


@pytest.fixture(scope="session")
def shared_keys() -> KeySet:
    return KeySet()


@pytest.fixture
def sim(client_certificate: ClientCertificate, shared_keys: KeySet) -> Simulator:
    return new_simulator(sample_seed(client_certificate), keys=shared_keys)


@pytest.fixture
def client(sim: Simulator) -> Iterator[TestClient]:
    with TestClient(create_app(sim), base_url=ORIGIN, follow_redirects=False) as test_client:
        yield test_client


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def header_of(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in {html[:2000]}"
    return found.group(1)


def redirect_params(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))

"""API tests: an operator key and a client that sends it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from koppel.apikeys.service import create_api_key
from koppel.db.engine import transaction
from tests.conftest import Clock


def make_key(factory: sessionmaker[Session], clock: Clock, org: str | None = None) -> dict[str, str]:
    with transaction(factory) as session:
        secret = create_api_key(session=session, name="test", org=org, now=clock()).secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def operator(session_factory: sessionmaker[Session], clock: Clock) -> dict[str, str]:
    return make_key(session_factory, clock)


@pytest.fixture
def api(client: TestClient, operator: dict[str, str]) -> TestClient:
    client.headers.update(operator)
    return client


@pytest.fixture
def org_key(session_factory: sessionmaker[Session], clock: Clock) -> Callable[[str], dict[str, str]]:
    return lambda org: make_key(session_factory, clock, org)

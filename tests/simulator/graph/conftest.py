"""An in-process simulator for the Graph tests: the sample seed, a test client and token helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from entra_simulator.app import create_app
from entra_simulator.graph_permissions import GRAPH_APP_ID
from entra_simulator.oidc.resources import graph_resource
from entra_simulator.oidc.tokens import Issuer, user_access_token
from entra_simulator.state import Settings, Simulator
from tests.simulator.support import (
    TENANT_ID,
    USER_UPN,
    WEB_APP_ID,
    WEB_SECRET,
    ClientCertificate,
    make_client_certificate,
    new_simulator,
    sample_seed,
)

BASE = "https://graph.test"
BIG_MEMBERS = 250


@pytest.fixture(scope="session")
def certificate() -> ClientCertificate:
    return make_client_certificate()


@pytest.fixture
def sim(certificate: ClientCertificate) -> Simulator:
    return new_simulator(sample_seed(certificate, big_group_members=BIG_MEMBERS), Settings(delta_page_size=10))


@pytest.fixture
def client(sim: Simulator) -> Iterator[TestClient]:
    with TestClient(create_app(sim), base_url=BASE) as test_client:
        yield test_client


@pytest.fixture
def app_token(client: TestClient) -> Callable[..., str]:
    """An app-only Graph token from the token endpoint (client credentials), as a daemon gets it."""

    def get(app_id: str = WEB_APP_ID, secret: str = WEB_SECRET, tenant: str = TENANT_ID) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": app_id,
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        }
        response = client.post(f"/{tenant}/oauth2/v2.0/token", data=form)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    return get


@pytest.fixture
def headers(app_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {app_token()}"}


@pytest.fixture
def user_token(sim: Simulator) -> Callable[..., str]:
    """A delegated Graph token for a user with the given scopes (as after a sign-in)."""

    def get(scopes: list[str], upn: str = USER_UPN) -> str:
        tenant = sim.directory.tenants[TENANT_ID]
        user = tenant.find_user(upn)
        assert user is not None
        app = sim.directory.apps[WEB_APP_ID]
        resource = graph_resource(GRAPH_APP_ID)
        return user_access_token(sim, Issuer(BASE, tenant), app, resource, user, scopes, "1")

    return get


@pytest.fixture
def grant_roles(sim: Simulator) -> Callable[..., None]:
    """Give the test app more Graph application permissions (as an admin consenting to them would)."""

    def grant(*roles: str) -> None:
        sp = sim.directory.ensure_service_principal(sim.directory.tenants[TENANT_ID], WEB_APP_ID)
        sp.app_roles.update((GRAPH_APP_ID, role) for role in roles)

    return grant

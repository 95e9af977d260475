"""SSO fixtures: the Entra simulator over HTTPS (session-wide), koppel in-process on the real clock.

The simulator stamps tokens with the wall clock, so ``sso_app`` runs koppel on it too; tests that
need a settable clock use the plain ``app`` fixture with hand-made tokens instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from entra_simulator.server import TlsFiles
from koppel.app import create_app
from koppel.db.base import utcnow
from koppel.organizations import service as org_service
from koppel.organizations.connections import create_connection
from koppel.security.crypto import SecretBox
from koppel.settings import Settings
from koppel.sso import clients
from koppel.sso.upstream.fetcher import UpstreamFetcher
from tests.simulator.support import (
    TENANT_ID,
    VERIFIED_DOMAIN,
    WEB_APP_ID,
    WEB_SECRET,
    SimulatorHandle,
    make_client_certificate,
    new_simulator,
    running,
    sample_seed,
)
from tests.sso.flows import HOST_REDIRECT, KOPPEL, HostApp

SECRET_KEY = "test-secret-key-not-for-production"


@pytest.fixture(scope="session")
def entra(tls_files: TlsFiles) -> Iterator[SimulatorHandle]:
    with ExitStack() as stack:
        yield stack.enter_context(running(new_simulator(sample_seed(make_client_certificate())), tls_files))


@pytest.fixture
def sso_settings(tmp_path: Path, database_url: str, entra: SimulatorHandle) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        base_url=KOPPEL,
        secret_key=SECRET_KEY,  # type: ignore[arg-type]
        entra_client_id=WEB_APP_ID,
        entra_client_secret=WEB_SECRET,  # type: ignore[arg-type]
        entra_authority=entra.url,
        graph_url=entra.url,
    )


@pytest.fixture
def sso_app(sso_settings: Settings, engine: Engine, tls_files: TlsFiles) -> FastAPI:
    app = create_app(sso_settings, engine=engine, clock=utcnow)
    app.state.sso_fetcher = UpstreamFetcher(client=httpx.Client(verify=str(tls_files.ca_bundle), timeout=10))
    return app


@pytest.fixture
def koppel(sso_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(sso_app, base_url=KOPPEL) as c:
        yield c


@pytest.fixture
def idp_http(entra: SimulatorHandle) -> Iterator[httpx.Client]:
    with entra.http() as c:
        yield c


@dataclass
class Setup:
    org_id: str
    connection_id: str
    host: HostApp


@pytest.fixture
def db(sso_app: FastAPI) -> Callable[[], AbstractContextManager[Session]]:
    """A committed transaction on koppel's database, for set-up and assertions."""
    factory: sessionmaker[Session] = sso_app.state.session_factory

    @contextmanager
    def transaction() -> Iterator[Session]:
        with factory() as session, session.begin():
            yield session

    return transaction


def register_callback(entra: SimulatorHandle, app_id: str, connection_id: str) -> None:
    with entra.http() as http:
        uri = f"{KOPPEL}/sso/callback/{connection_id}"
        http.post(f"/_simulator/apps/{app_id}/redirect-uris", json={"uri": uri}).raise_for_status()


@pytest.fixture
def platform(sso_app: FastAPI, db: Callable[[], AbstractContextManager[Session]], entra: SimulatorHandle) -> Setup:
    """Organization ``contoso`` with an Entra platform-mode connection and a host-app client."""
    box: SecretBox = sso_app.state.secret_box
    now = utcnow()
    with db() as session:
        org = org_service.create_organization(
            session=session,
            slug="contoso",
            fields=org_service.OrganizationFields(name="Contoso Nederland"),
            domains=[VERIFIED_DOMAIN],
            now=now,
        )
        org.settings = {"sso_provisioning": "jit"}
        connection = create_connection(
            session=session, secret_box=box, org=org.id, kind="entra", name="Entra ID",
            settings={"tenant_id": TENANT_ID}, now=now,
        )  # fmt: skip
        connection.status = "healthy"
        client, secret = clients.create_client(
            session=session, name="Host app", redirect_uris=[HOST_REDIRECT],
            post_logout_redirect_uris=["https://app.example/bye"], initiate_login_uri="https://app.example/login",
            now=now,
        )  # fmt: skip
        ids = Setup(org.id, connection.id, HostApp(client.client_id, secret))
    register_callback(entra, WEB_APP_ID, ids.connection_id)
    return ids

"""Graph sync against the Entra simulator over HTTPS: a vendor tenant holding koppel's multi-tenant
app, a customer tenant (seed 000's "De Digitale Gesprekscyclus" situation) that has not consented yet,
and a third tenant for consent from the wrong place. Mail goes to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from entra_simulator.admin_client import AdminClient
from entra_simulator.seed import derive_id
from koppel.db.engine import transaction
from koppel.demo_stack import MailCatcher
from koppel.directory.models import DirectoryUser
from koppel.graph import service
from koppel.graph.models import GraphSyncRun
from koppel.graph.sync import run_sync
from koppel.organizations import service as org_service
from koppel.settings import Settings
from tests.conformance.conftest import start_simulator, trust_simulator_ca  # noqa: F401
from tests.conftest import Clock
from tests.simulator.support import SimulatorHandle

VENDOR = "0a1b2c3d-0000-4000-8000-00000000000a"
CUSTOMER = "3da4a34e-223c-428f-90c6-e1b0dccdf3f2"
CUSTOMER_DOMAIN = "gesprekscyclus.onmicrosoft.com"
STRANGER = "5e6f7a8b-0000-4000-8000-00000000000b"
APP_ID = "d1d2d3d4-1111-4222-8333-444455556666"
APP_SECRET = "Kp1~koppel.graph-sync.secret_for_tests01"
BASE_URL = "https://koppel.test"
PASSWORD = "Welkom-2026!"
ADMIN = f"beheer@{CUSTOMER_DOMAIN}"
GROUP = "Digitale Gesprekscyclus"
GUEST_UPN = f"gast_partner.example#EXT#@{CUSTOMER_DOMAIN}"


def user_id(upn: str) -> str:
    return derive_id(CUSTOMER, "user", upn)


def group_id(name: str) -> str:
    return derive_id(CUSTOMER, "group", name)


def upn(i: int) -> str:
    return f"medewerker{i:05d}@{CUSTOMER_DOMAIN}"


def seed(members: int = 8) -> dict[str, Any]:
    users: list[dict[str, Any]] = [
        {
            "userPrincipalName": ADMIN,
            "givenName": "Bea",
            "surname": "Heer",
            "password": PASSWORD,
            "directoryRoles": ["Global Administrator"],
        },
        {
            "userType": "Guest",
            "mail": "gast@partner.example",
            "givenName": "Gerda",
            "surname": "Gast",
            "externalUserState": "PendingAcceptance",
        },
        {"userPrincipalName": f"genest@{CUSTOMER_DOMAIN}", "givenName": "Nina", "surname": "Genest"},
    ]
    users += [
        {
            "userPrincipalName": upn(i),
            "givenName": "Medewerker",
            "surname": f"{i:05d}",
            "mail": upn(i),
            "jobTitle": "Docent",
            "department": "Onderwijs",
        }
        for i in range(members)
    ]
    return {
        "tenants": [
            {
                "id": VENDOR,
                "displayName": "Vendor",
                "domains": ["vendor-sim.onmicrosoft.com"],
                "applications": [
                    {
                        "appId": APP_ID,
                        "displayName": "koppel",
                        "signInAudience": "AzureADMultipleOrgs",
                        "secrets": [{"value": APP_SECRET}],
                        "redirectUris": [f"{BASE_URL}/graph/consent/callback"],
                        "graphPermissions": {"application": ["User.Read.All", "GroupMember.Read.All"]},
                        "adminConsent": True,
                    }
                ],
            },
            {
                "id": CUSTOMER,
                "displayName": "gesprekscyclus",
                "domains": [CUSTOMER_DOMAIN],
                "users": users,
                "groups": [
                    {
                        "displayName": GROUP,
                        "members": [upn(i) for i in range(members)] + [GUEST_UPN, "Geneste groep"],
                    },
                    {"displayName": "Geneste groep", "members": [f"genest@{CUSTOMER_DOMAIN}"]},
                    {"displayName": "Team Unified", "groupTypes": ["Unified"], "members": [upn(0)]},
                ],
            },
            {
                "id": STRANGER,
                "displayName": "Stranger",
                "domains": ["stranger-sim.onmicrosoft.com"],
                "users": [
                    {
                        "userPrincipalName": "admin@stranger-sim.onmicrosoft.com",
                        "password": PASSWORD,
                        "directoryRoles": ["Global Administrator"],
                    }
                ],
            },
        ]
    }


@dataclass
class Entra:
    handle: SimulatorHandle
    admin: AdminClient

    @property
    def url(self) -> str:
        return self.handle.url

    def tenant(self) -> Any:
        return self.handle.sim.directory.tenant(CUSTOMER)

    def fault(self, **spec: Any) -> None:
        self.admin.post("/faults", {"tenant": CUSTOMER, **spec})

    def clear_faults(self) -> None:
        self.admin.delete("/faults")


@pytest.fixture
def entra_seed() -> dict[str, Any]:
    return seed()


@pytest.fixture
def entra(start_simulator: Callable[[dict[str, Any]], SimulatorHandle], entra_seed: dict[str, Any]) -> Entra:  # noqa: F811
    handle = start_simulator(entra_seed)
    return Entra(handle, AdminClient(handle.url, handle.ca_bundle))


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher(tmp_path / "mail") as catcher:
        yield catcher


@pytest.fixture
def gsettings(settings: Settings, entra: Entra, mailbox: MailCatcher) -> Settings:
    return settings.model_copy(
        update={
            "entra_client_id": APP_ID,
            "entra_client_secret": SecretStr(APP_SECRET),
            "entra_authority": entra.url,
            "graph_url": entra.url,
            "base_url": BASE_URL,
            "smtp_port": mailbox.port,
        }
    )


def consent_in_browser(entra: Entra, url: str, *, accept: bool = True, login: str = ADMIN) -> dict[str, str]:
    """What an admin does with the e-mailed link: sign in, Accept (or Cancel); returns the redirect's query."""
    with entra.handle.http(follow_redirects=False) as browser:
        page = browser.get(url)
        segment = urlsplit(url).path.split("/")[1]
        ctx = re.search(r'name="ctx" value="([^"]+)"', page.text)
        assert ctx, page.text
        page = browser.post(f"/{segment}/login", data={"ctx": ctx.group(1), "login": login, "passwd": PASSWORD})
        if page.status_code == 302:
            return dict(parse_qsl(urlsplit(page.headers["location"]).query))
        ctx = re.search(r'name="ctx" value="([^"]+)"', page.text)
        assert ctx, page.text
        answer = browser.post(
            f"/{segment}/consent", data={"ctx": ctx.group(1), "consent": "accept" if accept else "cancel"}
        )
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(f"{BASE_URL}/graph/consent/callback"), location
        return dict(parse_qsl(urlsplit(location).query))


@dataclass
class Koppel:
    """koppel's side of a test: settings, database, clock; helpers that call the services as the API does."""

    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    entra: Entra
    sleeps: list[float]

    def onboard(self, *, groups: list[str] | None = None, **options: Any) -> tuple[str, service.ConsentLink]:
        with transaction(self.factory) as session:
            org_service.create_organization(
                session=session,
                slug="ddgc",
                fields=org_service.OrganizationFields(name="De Digitale Gesprekscyclus"),
                domains=[],
                now=self.clock(),
            )
            from koppel.security.crypto import SecretBox

            connection, link = service.add_entra(
                session=session,
                secret_box=SecretBox(self.settings.secret),
                settings=self.settings,
                org="ddgc",
                tenant=options.pop("tenant", CUSTOMER),
                group_ids=[group_id(GROUP)] if groups is None else groups,
                now=self.clock(),
                **options,
            )
            return connection.id, link

    def callback(self, params: dict[str, str]) -> service.ConsentOutcome:
        with transaction(self.factory) as session:
            return service.consent_callback(session=session, settings=self.settings, params=params, now=self.clock())

    def connected(self, **options: Any) -> str:
        """Onboarded, consented and healthy."""
        connection_id, link = self.onboard(**options)
        outcome = self.callback(consent_in_browser(self.entra, link.url))
        assert outcome.accepted, outcome.message
        return connection_id

    def sync(self, connection_id: str, **kwargs: Any) -> GraphSyncRun:
        self.clock.advance(minutes=1)
        run_id = run_sync(
            session_factory=self.factory,
            settings=self.settings,
            connection_id=connection_id,
            now=self.clock,
            sleep=self.sleeps.append,
            **kwargs,
        )
        with transaction(self.factory) as session:
            run = session.get(GraphSyncRun, run_id)
            assert run is not None
            session.expunge(run)
            return run

    def users(self) -> dict[str, DirectoryUser]:
        with transaction(self.factory) as session:
            rows = list(session.scalars(select(DirectoryUser)))
            for row in rows:
                session.expunge(row)
            return {u.external_id: u for u in rows}

    def active(self) -> set[str]:
        return {ext for ext, u in self.users().items() if u.status == "active"}

    def connection(self, connection_id: str) -> Any:
        from koppel.organizations.connections import get_connection

        with transaction(self.factory) as session:
            found = get_connection(session=session, connection_id=connection_id)
            session.expunge(found)
            return found


@pytest.fixture
def koppel(gsettings: Settings, session_factory: sessionmaker[Session], clock: Clock, entra: Entra) -> Koppel:
    return Koppel(gsettings, session_factory, clock, entra, [])


def http_client(entra: Entra) -> httpx.Client:
    return entra.handle.http()


def configure(koppel: Koppel, connection_id: str, **settings: Any) -> None:
    from koppel.organizations.connections import get_connection, update_connection
    from koppel.security.crypto import SecretBox

    with transaction(koppel.factory) as session:
        connection = get_connection(session=session, connection_id=connection_id)
        box = SecretBox(koppel.settings.secret)
        update_connection(session=session, secret_box=box, connection=connection, settings=settings, now=koppel.clock())


def add_member(entra: Entra, group: str, member: str) -> None:
    entra.admin.post(f"/tenants/{CUSTOMER}/groups/{group}/members", {"member": member})


def remove_member(entra: Entra, group: str, member: str) -> None:
    entra.admin.delete(f"/tenants/{CUSTOMER}/groups/{group}/members/{member}")

"""Any OIDC IdP by discovery URL (issue 5 §4), proven against node's oidc-provider, an independent certified OP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.db.base import utcnow
from koppel.events.models import Event
from koppel.organizations import service as org_service
from koppel.sso import clients, connections
from tests.sso.flows import KOPPEL, Browser, HostApp, node_oidc_login
from tests.sso.oidc_provider import install, oidc_provider
from tests.sso.test_platform_login import verify_id_token

Db = Callable[[], AbstractContextManager[Session]]
SECRET = "s3cr/et+with=odd/chars+"  # seed 001 forbids / and +; koppel must not
ACCOUNTS = {
    "eva": {"email": "Eva@Acme.example", "email_verified": True, "name": "Eva Smit", "given_name": "Eva",
            "family_name": "Smit", "groups": ["engineering"]},
    "mallory": {"email": "mallory@evil.example", "email_verified": True, "name": "Mallory"},
    "unverified": {"email": "ursula@acme.example", "email_verified": False},
    "upn-only": {"preferred_username": "piet@acme.example", "email_verified": True},
}  # fmt: skip


@pytest.fixture(scope="session")
def node_dir() -> Path:
    return install()


@pytest.fixture
def acme(sso_app: FastAPI, db: Db, node_dir: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    mapping: dict[str, str] = getattr(request, "param", {})
    with db() as session:
        org = org_service.create_organization(
            session=session, slug="acme", fields=org_service.OrganizationFields(name="Acme", default_role="member"),
            domains=["acme.example"], now=utcnow(),
        )  # fmt: skip
        org.settings = {"sso_provisioning": "jit"}
        connection = connections.add_oidc(
            session=session, secret_box=sso_app.state.secret_box, org=org.id,
            idp=connections.OidcIdp("http://127.0.0.1:1/.well-known/openid-configuration", "koppel", SECRET,
                                    mapping, ["openid", "email", "profile", "groups"]),
            now=utcnow(),
        )  # fmt: skip
        client, secret = clients.create_client(
            session=session, name="Host", redirect_uris=["https://app.example/cb"], now=utcnow()
        )
        connection_id, host = connection.id, HostApp(client.client_id, secret)
    idp_client = {"client_id": "koppel", "client_secret": SECRET,
                  "redirect_uris": [f"{KOPPEL}/sso/callback/{connection_id}"]}  # fmt: skip
    with oidc_provider(node_dir, client=idp_client, accounts=ACCOUNTS) as issuer:
        with db() as session:  # now the port is known: point the connection at the running provider
            from koppel.organizations.models import Connection

            row = session.get_one(Connection, connection_id)
            row.settings = {**row.settings, "discovery_url": f"{issuer}/.well-known/openid-configuration"}
        with httpx.Client(timeout=10) as idp:
            yield {"host": host, "idp": idp}


def login(koppel: TestClient, acme: dict[str, Any], who: str) -> httpx.Response:
    host = HostApp(acme["host"].client_id, acme["host"].client_secret)
    landed = Browser(koppel, acme["idp"], node_oidc_login(who)).go(host.authorize_url(organization="acme"))
    if not str(landed.request.url).startswith(host.redirect_uri):
        return landed
    if "error=" in str(landed.request.url):  # refused: the app got access_denied; shown as koppel would
        return httpx.Response(403, text=host.refusal(landed), request=landed.request)
    return host.redeem(koppel, host.code_from(landed))


def test_verified_user_of_the_organizations_domain_signs_in(koppel: TestClient, acme: dict[str, Any]) -> None:
    tokens = login(koppel, acme, "eva")
    assert tokens.status_code == 200, tokens.text[:500]
    claims = verify_id_token(koppel, tokens.json()["id_token"])
    assert claims["email"] == "eva@acme.example" and claims["name"] == "Eva Smit"
    assert claims["groups"] == ["engineering"] and claims["roles"] == ["member"]
    assert claims["idp"].startswith("http://127.0.0.1:") and claims["org"]["slug"] == "acme"


def test_shared_idp_admits_only_verified_addresses_in_the_organizations_domains(
    koppel: TestClient, acme: dict[str, Any], db: Db
) -> None:
    for who in ("mallory", "unverified", "upn-only"):
        refused = login(koppel, acme, who)
        assert (
            refused.status_code == 403 and "not a verified address in one of the organization's domains" in refused.text
        )
    with db() as session:
        reasons = [e.data["reason"] for e in session.scalars(select(Event).where(Event.type == "sso.login.failed"))]
    assert reasons == ["domain", "domain", "domain"]


@pytest.mark.parametrize("acme", [{"email": "preferred_username"}], indirect=True)
def test_claim_mapping_takes_the_address_from_another_claim(koppel: TestClient, acme: dict[str, Any]) -> None:
    tokens = login(koppel, acme, "upn-only")
    assert tokens.status_code == 200, tokens.text[:500]
    assert verify_id_token(koppel, tokens.json()["id_token"])["email"] == "piet@acme.example"

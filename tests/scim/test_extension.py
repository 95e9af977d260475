"""Seed 002: 8x8's custom extension; its 'site' cannot change after the user is created."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import transaction
from koppel.scim import service
from tests.conftest import Clock
from tests.scim.conftest import ENTERPRISE, USER, Tenant

EXT = "urn:ietf:params:scim:schemas:extension:8x8:1.1:User"


def configure(factory: sessionmaker[Session], clock: Clock, tenant: Tenant) -> None:
    with transaction(factory) as session:
        service.set_config(
            session=session,
            org=tenant.slug,
            now=clock(),
            extension_urn=EXT,
            extension_attributes=[{"name": "site", "mutability": "immutable"}, {"name": "costCode"}],
        )


def test_site_is_immutable(tenant: Tenant, session_factory: sessionmaker[Session], clock: Clock) -> None:
    configure(session_factory, clock, tenant)
    # Entra does not list the custom URN in schemas
    r = tenant.post("/Users", {"schemas": [USER, ENTERPRISE], "userName": "a@8x8.test", EXT: {"site": "Amsterdam"}})
    assert r.status_code == 201 and r.json()[EXT] == {"site": "Amsterdam"} and EXT in r.json()["schemas"]
    uid = r.json()["id"]
    r = tenant.patch(f"/Users/{uid}", {"op": "Replace", "path": f"{EXT}:site", "value": "Berlin"})
    assert r.status_code == 400
    assert r.json()["scimType"] == "mutability" and "site" in r.json()["detail"] and "Amsterdam" in r.json()["detail"]
    r = tenant.patch(f"/Users/{uid}", {"op": "replace", "value": {f"{EXT}:site": "Berlin"}})
    assert r.status_code == 400 and r.json()["scimType"] == "mutability"
    r = tenant.request("PUT", f"/Users/{uid}", {"schemas": [USER], "userName": "a@8x8.test", EXT: {"site": "Rome"}})
    assert r.status_code == 400 and r.json()["scimType"] == "mutability"
    # the same value, and other attributes of the extension, are fine
    r = tenant.patch(
        f"/Users/{uid}",
        {"op": "Replace", "path": f"{EXT}:site", "value": "Amsterdam"},
        {"op": "Add", "path": f"{EXT}:costCode", "value": "CC-1"},
    )
    assert r.status_code == 200 and r.json()[EXT] == {"site": "Amsterdam", "costCode": "CC-1"}
    assert tenant.get(f"/Users/{uid}").json()[EXT]["site"] == "Amsterdam"
    # a user created without a site may get one once
    uid2 = tenant.create_user("b@8x8.test")["id"]
    assert tenant.patch(f"/Users/{uid2}", {"op": "Add", "path": f"{EXT}:site", "value": "Oslo"}).status_code == 200
    assert tenant.patch(f"/Users/{uid2}", {"op": "Add", "path": f"{EXT}:site", "value": "Bergen"}).status_code == 400
    # unknown attributes of the configured extension are refused; it is listed in /Schemas
    r = tenant.post("/Users", {"schemas": [USER], "userName": "c@8x8.test", EXT: {"floor": "3"}})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidSyntax"
    schemas = {s["id"]: s for s in tenant.get("/Schemas").json()["Resources"]}
    assert schemas[EXT]["attributes"][0]["mutability"] == "immutable"
    assert tenant.get(f'/Users?filter={EXT}:site eq "amsterdam"').json()["totalResults"] == 1


def test_extension_via_management_api(
    client: TestClient, tenant: Tenant, session_factory: sessionmaker[Session], clock: Clock
) -> None:
    from tests.api.conftest import make_key

    headers = make_key(session_factory, clock)
    body = {"extension_urn": EXT, "extension_attributes": [{"name": "site", "mutability": "immutable"}]}
    r = client.put(f"/api/v1/organizations/{tenant.slug}/scim/config", json=body, headers=headers)
    assert r.status_code == 200 and r.json()["extension_urn"] == EXT
    bad = {"extension_urn": "not a urn"}
    r = client.put(f"/api/v1/organizations/{tenant.slug}/scim/config", json=bad, headers=headers)
    assert r.status_code == 422 and "urn" in r.text

"""SCIM test helpers: an organization with a Secret Token, and a client on its Tenant URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import transaction
from koppel.organizations.service import OrganizationFields, create_organization
from koppel.scim import service
from tests.conftest import Clock

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Tenant:
    """One organization's Tenant URL and Secret Token, with short-hands for SCIM calls."""

    client: TestClient
    slug: str
    org_id: str
    token: str

    @property
    def base(self) -> str:
        return f"/scim/v2/{self.slug}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"}

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Response:
        return self.client.request(method, self.base + path, json=body, headers=self.headers(), **kw)

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any) -> Response:
        return self.request("POST", path, body)

    def patch(self, path: str, *ops: dict[str, Any]) -> Response:
        return self.request("PATCH", path, {"schemas": [PATCH], "Operations": list(ops)})

    def delete(self, path: str) -> Response:
        return self.request("DELETE", path)

    def create_user(self, user_name: str, **extra: Any) -> dict[str, Any]:
        r = self.post("/Users", {"schemas": [USER], "userName": user_name, "active": True, **extra})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def create_group(self, name: str, **extra: Any) -> dict[str, Any]:
        r = self.post("/Groups", {"schemas": [GROUP], "displayName": name, **extra})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def make_tenant(client: TestClient, factory: sessionmaker[Session], clock: Clock, slug: str) -> Tenant:
    with transaction(factory) as session:
        org = create_organization(session=session, slug=slug, fields=OrganizationFields(name=slug), now=clock())
        token = service.create_token(session=session, org=org.id, expires_in=None, now=clock())
    return Tenant(client, slug, org.id, token.secret)


@pytest.fixture
def tenant(client: TestClient, session_factory: sessionmaker[Session], clock: Clock) -> Tenant:
    return make_tenant(client, session_factory, clock, "acme")


@pytest.fixture
def other_tenant(client: TestClient, session_factory: sessionmaker[Session], clock: Clock) -> Tenant:
    return make_tenant(client, session_factory, clock, "globex")

"""Input PostgreSQL cannot store (NUL characters) or that outgrows a log column: a 4xx, logged, never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from koppel.scim.models import ScimLogEntry
from tests.scim.conftest import Tenant

CASES: dict[str, Callable[[Tenant, str, str], Response]] = {
    "create with a NUL in userName": lambda t, u, g: t.post("/Users", {"userName": "x\x00y"}),
    "NUL in a user id": lambda t, u, g: t.get("/Users/a%00b"),
    "NUL in a group id": lambda t, u, g: t.get("/Groups/a%00b"),
    "delete with a NUL in the id": lambda t, u, g: t.delete("/Users/a%00b"),
    "PATCH value with a NUL": lambda t, u, g: t.patch(
        f"/Users/{u}", {"op": "replace", "path": "displayName", "value": "a\x00"}
    ),
    "member id with a NUL": lambda t, u, g: t.patch(
        f"/Groups/{g}", {"op": "add", "path": "members", "value": [{"value": "a\x00"}]}
    ),
    "NUL in a filter string": lambda t, u, g: t.get("/Users", params={"filter": 'externalId eq "a\x00"'}),
    "escaped NUL in a filter string": lambda t, u, g: t.get("/Groups", params={"filter": 'displayName eq "a\\u0000"'}),
    "an endpoint name longer than the log column": lambda t, u, g: t.get("/" + "Z" * 300),
    "an id longer than the log column": lambda t, u, g: t.get("/Users/" + "9" * 300),
}


@pytest.mark.parametrize("case", CASES)
def test_answered_with_a_client_error_and_logged(
    case: str, tenant: Tenant, session_factory: sessionmaker[Session]
) -> None:
    user = tenant.create_user("a@x.com")["id"]
    group = tenant.create_group("G")["id"]
    r = CASES[case](tenant, user, group)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["detail"]
    with session_factory() as session:
        last = session.scalars(
            select(ScimLogEntry).where(ScimLogEntry.org_id == tenant.org_id).order_by(ScimLogEntry.id.desc()).limit(1)
        ).one()
    assert last.status == r.status_code  # the request's own entry, not the group creation's

"""Reading the directory, role mappings and events through /api/v1."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import transaction
from koppel.directory.changes import ChangeSet, GroupRecord, UserRecord
from koppel.directory.service import apply_changes
from tests.conftest import Clock


def seed_directory(api: TestClient, factory: sessionmaker[Session], clock: Clock, users: int = 25) -> tuple[str, str]:
    org = api.post("/api/v1/organizations", json={"slug": "contoso", "name": "Contoso"}).json()
    conn = api.post("/api/v1/organizations/contoso/connections", json={"kind": "scim", "name": "SCIM"}).json()
    records = [
        UserRecord(external_id=f"ext-{i:03}", user_name=f"user{i}@contoso.com", display_name=f"User {i}")
        for i in range(users)
    ]
    records.append(UserRecord(external_id="ext-pct", user_name="percent%_@contoso.com", display_name="Odd"))
    changes = ChangeSet(
        org_id=org["id"],
        connection_id=conn["id"],
        upsert_users=records,
        upsert_groups=[GroupRecord(external_id="g-sales", display_name="Sales")],
        set_members={"g-sales": ["ext-000", "ext-001"]},
        deactivate_users=[("ext-002", "left every scoped group")],
    )
    with transaction(factory) as session:
        apply_changes(session=session, changes=changes, now=clock())
    return org["id"], conn["id"]


def test_users_page_with_a_cursor_and_filter(
    api: TestClient, session_factory: sessionmaker[Session], clock: Clock
) -> None:
    _, connection_id = seed_directory(api, session_factory, clock)
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 10, **({"after": after} if after else {})}
        page = api.get("/api/v1/organizations/contoso/users", params=params).json()
        seen += [u["external_id"] for u in page["data"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert len(seen) == 26 and len(set(seen)) == 26
    inactive = api.get("/api/v1/organizations/contoso/users", params={"status": "deactivated"}).json()["data"]
    assert [u["external_id"] for u in inactive] == ["ext-002"]
    text = api.get("/api/v1/organizations/contoso/users", params={"q": "USER1"}).json()["data"]
    assert sorted(u["user_name"] for u in text) == sorted(f"user{i}@contoso.com" for i in [1, *range(10, 20)])
    # LIKE wildcards in the text are matched literally.
    literal = api.get("/api/v1/organizations/contoso/users", params={"q": "%_"}).json()["data"]
    assert [u["external_id"] for u in literal] == ["ext-pct"]
    by_conn = api.get("/api/v1/organizations/contoso/users", params={"connection_id": connection_id, "limit": 500})
    assert len(by_conn.json()["data"]) == 26
    bad = api.get("/api/v1/organizations/contoso/users", params={"status": "gone"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_user_group_and_members(api: TestClient, session_factory: sessionmaker[Session], clock: Clock) -> None:
    seed_directory(api, session_factory, clock)
    group = api.get("/api/v1/organizations/contoso/groups", params={"q": "sal"}).json()["data"][0]
    assert group["external_id"] == "g-sales"
    members = api.get(f"/api/v1/organizations/contoso/groups/{group['id']}/members").json()["data"]
    assert sorted(m["external_id"] for m in members) == ["ext-000", "ext-001"]
    user = api.get(f"/api/v1/organizations/contoso/users/{members[0]['id']}").json()
    assert user["group_ids"] == [group["id"]]
    assert api.get("/api/v1/organizations/contoso/users/nope").status_code == 404


def test_role_mappings_show_group_names(api: TestClient, session_factory: sessionmaker[Session], clock: Clock) -> None:
    seed_directory(api, session_factory, clock)
    created = api.post("/api/v1/organizations/contoso/role-mappings", json={"group_key": "g-sales", "role": "manager"})
    assert created.status_code == 201
    assert (
        api.post(
            "/api/v1/organizations/contoso/role-mappings", json={"group_key": "g-sales", "role": "manager"}
        ).status_code
        == 409
    )
    listed = api.get("/api/v1/organizations/contoso/role-mappings").json()
    assert [(m["group_key"], m["group_name"], m["role"]) for m in listed] == [("g-sales", "Sales", "manager")]
    assert api.delete(f"/api/v1/organizations/contoso/role-mappings/{created.json()['id']}").status_code == 204
    assert api.get("/api/v1/organizations/contoso/role-mappings").json() == []


def test_events_are_read_in_order_after_a_cursor(
    api: TestClient, session_factory: sessionmaker[Session], clock: Clock
) -> None:
    seed_directory(api, session_factory, clock, users=3)
    first = api.get("/api/v1/events", params={"limit": 3}).json()
    assert [e["type"] for e in first["data"]] == ["organization.created", "connection.created", "group.created"]
    rest = api.get("/api/v1/events", params={"after": first["next_cursor"]}).json()
    ids = [e["id"] for e in first["data"] + rest["data"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    users = api.get("/api/v1/events", params={"type": "user.*"}).json()["data"]
    assert {e["type"] for e in users} == {"user.created", "user.deactivated"}
    end = api.get("/api/v1/events", params={"after": rest["next_cursor"]}).json()
    assert end == {"data": [], "next_cursor": rest["next_cursor"]}

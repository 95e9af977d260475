"""Member batches (Entra's Add/Remove PATCHes): checked once per request, one event per member changed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from koppel.events.models import Event
from tests.scim.conftest import GROUP, Tenant


def member_ids(tenant: Tenant, group_id: str) -> set[str]:
    return {m["value"] for m in tenant.get(f"/Groups/{group_id}").json().get("members", [])}


def events(factory: sessionmaker[Session], type_: str) -> int:
    with factory() as s:
        return len(list(s.scalars(select(Event.id).where(Event.type == type_))))


def test_add_and_remove_batches(tenant: Tenant, session_factory: sessionmaker[Session]) -> None:
    users = [tenant.create_user(f"u{i}@contoso.com")["id"] for i in range(4)]
    group = tenant.create_group("staff", members=[{"value": users[0]}])
    gid = group["id"]
    assert member_ids(tenant, gid) == {users[0]}

    r = tenant.patch(f"/Groups/{gid}", {"op": "Add", "path": "members", "value": [{"value": u} for u in users]})
    assert r.status_code == 204, r.text
    assert member_ids(tenant, gid) == set(users)
    assert events(session_factory, "group.member_added") == 4  # users[0] was a member already

    r = tenant.patch(f"/Groups/{gid}", {"op": "Add", "path": "members", "value": [{"value": "no-such-user"}]})
    assert r.status_code == 400 and "no-such-user" in r.json()["detail"]

    gone = [{"value": users[1]}, {"value": users[2]}, {"value": "no-such-user"}]  # an unknown id is a no-op
    r = tenant.patch(f"/Groups/{gid}", {"op": "Remove", "path": "members", "value": gone})
    assert r.status_code == 204, r.text
    assert member_ids(tenant, gid) == {users[0], users[3]}
    assert events(session_factory, "group.member_removed") == 2


def test_replace_members_and_rename(tenant: Tenant, session_factory: sessionmaker[Session]) -> None:
    users = [tenant.create_user(f"v{i}@contoso.com")["id"] for i in range(3)]
    gid = tenant.create_group("team", members=[{"value": users[0]}, {"value": users[1]}])["id"]
    body = {"schemas": [GROUP], "displayName": "team-2", "members": [{"value": users[1]}, {"value": users[2]}]}
    r = tenant.request("PUT", f"/Groups/{gid}", body)
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "team-2"
    assert {m["value"] for m in r.json()["members"]} == {users[1], users[2]}
    assert events(session_factory, "group.updated") == 1
    assert tenant.delete(f"/Groups/{gid}").status_code == 204
    assert tenant.get(f"/Groups/{gid}").status_code == 404
    assert events(session_factory, "group.deleted") == 1

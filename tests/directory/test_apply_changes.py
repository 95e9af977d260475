"""The one directory writer: diffs, lifecycle, memberships, events in the same transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from koppel.directory.changes import ChangeSet, GroupRecord, UserRecord
from koppel.directory.models import DirectoryUser, Membership
from koppel.directory.service import apply_changes
from koppel.errors import NotFound
from koppel.events.models import Event
from koppel.organizations.models import Connection, Organization
from tests.conftest import Clock


@pytest.fixture
def scope(session_factory: sessionmaker[Session]) -> tuple[str, str]:
    with session_factory() as s, s.begin():
        org = Organization(slug="contoso", name="Contoso")
        s.add(org)
        s.flush()
        conn = Connection(org_id=org.id, kind="entra", name="Entra")
        s.add(conn)
        s.flush()
        return org.id, conn.id


def apply(factory: sessionmaker[Session], scope: tuple[str, str], clock: Clock, **changes: object) -> dict[str, int]:
    with factory() as s, s.begin():
        result = apply_changes(session=s, changes=ChangeSet(*scope, **changes), now=clock())  # type: ignore[arg-type]
        return result.counts()


def event_types(factory: sessionmaker[Session]) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(Event.type).order_by(Event.id)))


def user(ext: str, **fields: object) -> UserRecord:
    return UserRecord(external_id=ext, user_name=f"{ext}@contoso.com", **fields)  # type: ignore[arg-type]


def test_create_then_unchanged_upsert_writes_nothing(session_factory, scope, clock) -> None:
    first = apply(session_factory, scope, clock, upsert_users=[user("u1", display_name="Ann")])
    again = apply(session_factory, scope, clock, upsert_users=[user("u1", display_name="Ann")])
    assert first["users_created"] == 1 and first["events"] == 1
    assert again["users_updated"] == 0 and again["events"] == 0
    assert event_types(session_factory) == ["user.created"]


def test_update_reports_changed_fields(session_factory, scope, clock) -> None:
    apply(session_factory, scope, clock, upsert_users=[user("u1", display_name="Ann")])
    clock.advance(minutes=5)
    apply(session_factory, scope, clock, upsert_users=[user("u1", display_name="Ann B", job_title="CTO")])
    with session_factory() as s:
        event = s.scalars(select(Event).where(Event.type == "user.updated")).one()
        stored = s.scalars(select(DirectoryUser)).one()
    assert sorted(event.data["changed"]) == ["display_name", "job_title"]
    assert stored.display_name == "Ann B" and stored.updated_at == clock()


def test_disabled_at_source_deactivates_and_enabling_reactivates(session_factory, scope, clock) -> None:
    apply(session_factory, scope, clock, upsert_users=[user("u1")])
    apply(session_factory, scope, clock, upsert_users=[user("u1", account_enabled=False)])
    with session_factory() as s:
        assert s.scalars(select(DirectoryUser.status)).one() == "deactivated"
    apply(session_factory, scope, clock, upsert_users=[user("u1")])
    assert event_types(session_factory) == [
        "user.created",
        "user.updated",
        "user.deactivated",
        "user.updated",
        "user.reactivated",
    ]


def test_deactivate_keeps_the_row_and_says_why(session_factory, scope, clock) -> None:
    apply(session_factory, scope, clock, upsert_users=[user("u1")])
    counts = apply(session_factory, scope, clock, deactivate_users=[("u1", "left every scoped group")])
    again = apply(session_factory, scope, clock, deactivate_users=[("u1", "left every scoped group")])
    with session_factory() as s:
        event = s.scalars(select(Event).where(Event.type == "user.deactivated")).one()
        assert s.scalars(select(DirectoryUser.status)).one() == "deactivated"
    assert counts["users_deactivated"] == 1 and again["users_deactivated"] == 0
    assert event.data["reason"] == "left every scoped group"


def test_memberships_set_add_remove(session_factory, scope, clock) -> None:
    users = [user(f"u{i}") for i in range(4)]
    apply(
        session_factory,
        scope,
        clock,
        upsert_users=users,
        upsert_groups=[GroupRecord("g1", "Sales")],
        set_members={"g1": ["u0", "u1", "u2"]},
    )
    counts = apply(session_factory, scope, clock, set_members={"g1": ["u1", "u2", "u3"]})
    assert (counts["members_added"], counts["members_removed"]) == (1, 1)
    apply(session_factory, scope, clock, add_members=[("g1", "u0"), ("g1", "u0")], remove_members=[("g1", "u3")])
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Membership)) == 3


def test_delete_user_and_group_cascade_memberships(session_factory, scope, clock) -> None:
    apply(
        session_factory,
        scope,
        clock,
        upsert_users=[user("u1")],
        upsert_groups=[GroupRecord("g1", "Sales")],
        add_members=[("g1", "u1")],
    )
    apply(session_factory, scope, clock, delete_users=["u1"], delete_groups=["g1"])
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Membership)) == 0
        assert s.scalar(select(func.count()).select_from(DirectoryUser)) == 0
    assert event_types(session_factory)[-2:] == ["user.deleted", "group.deleted"]


def test_unknown_reference_rolls_back_everything(session_factory, scope, clock) -> None:
    with pytest.raises(NotFound, match="no user with external id 'ghost'"):
        apply(
            session_factory,
            scope,
            clock,
            upsert_users=[user("u1")],
            upsert_groups=[GroupRecord("g1", "G")],
            add_members=[("g1", "ghost")],
        )
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(DirectoryUser)) == 0
        assert s.scalar(select(func.count()).select_from(Event)) == 0


def test_same_external_id_in_two_connections_are_two_users(session_factory, scope, clock) -> None:
    org_id, _ = scope
    with session_factory() as s, s.begin():
        other = Connection(org_id=org_id, kind="scim", name="SCIM")
        s.add(other)
        s.flush()
        other_scope = (org_id, other.id)
    apply(session_factory, scope, clock, upsert_users=[user("u1")])
    apply(session_factory, other_scope, clock, upsert_users=[user("u1")])
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(DirectoryUser)) == 2

"""apply_changes with rows the caller already read (SCIM under its lock): same result, no second read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from koppel.directory.changes import ChangeSet
from koppel.directory.models import DirectoryUser
from koppel.directory.service import apply_changes, read_users
from koppel.events.models import Event
from tests.conftest import Clock
from tests.directory.test_apply_changes import apply, scope, user

__all__ = ["scope"]  # the fixture, used below


def test_known_rows_are_not_read_again(
    session_factory: sessionmaker[Session], scope: tuple[str, str], clock: Clock
) -> None:
    apply(session_factory, scope, clock, upsert_users=[user("u1", display_name="Ann")])
    reads: list[str] = []

    def count_reads(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "directory_users" in statement:
            reads.append(statement)

    with session_factory() as s, s.begin():
        rows = read_users(session=s, connection_id=scope[1], external_ids=["u1", "nobody"])
        assert set(rows) == {"u1"} and rows["u1"]["display_name"] == "Ann"
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", count_reads)
        try:
            changes = ChangeSet(*scope, upsert_users=[user("u1", display_name="Ann B"), user("u2")])
            known = {"u1": rows["u1"], "u2": None}
            result = apply_changes(session=s, changes=changes, now=clock(), current_users=known)
        finally:
            event.remove(engine, "before_cursor_execute", count_reads)
    assert reads == []
    assert result.users_updated == 1 and result.users_created == 1 and result.events == 2
    with session_factory() as s:
        names = {ext: name for ext, name in s.execute(select(DirectoryUser.external_id, DirectoryUser.display_name))}
        types = list(s.scalars(select(Event.type).order_by(Event.id)))
    assert names == {"u1": "Ann B", "u2": None}
    assert types == ["user.created", "user.updated", "user.created"]

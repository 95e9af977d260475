"""What one sync run found and wants done, and the parts every phase of a run shares.

A run streams the safe part of its work (creating and updating users, adding members) and ends
with a ``Plan``: the rest (removals, deactivations, disables, hard deletes) plus the delta links
to keep. ``sync.finish`` applies the plan, or parks it for approval when it trips the
accidental-deletion guard (issue 4 §5). A plan is JSON so it can wait in the run record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from koppel.directory.changes import ChangeResult, ChangeSet, GroupRecord, UserRecord
from koppel.graph.client import GraphClient
from koppel.graph.config import EntraConfig
from koppel.graph.models import GraphSyncRun


@dataclass
class RunCtx:
    """One run: its connection, Graph client, database and clock."""

    org_id: str
    connection_id: str
    config: EntraConfig
    graph: GraphClient
    session_factory: sessionmaker[Session]
    now: Callable[[], datetime]
    run_id: str
    totals: ChangeResult = field(default_factory=ChangeResult)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.session_factory() as session, session.begin():
            yield session

    def changes(self, **kwargs: Any) -> ChangeSet:
        return ChangeSet(org_id=self.org_id, connection_id=self.connection_id, **kwargs)

    def add_result(self, session: Session, result: ChangeResult, processed: int = 0) -> None:
        """Fold a chunk's counts into the totals and show them on the run record (progress)."""
        for name, value in result.counts().items():
            setattr(self.totals, name, getattr(self.totals, name) + value)
        run = session.get(GraphSyncRun, self.run_id)
        if run is not None:
            write_counts(run, self.totals)
            run.processed += processed
            run.graph_requests = self.graph.requests


def write_counts(run: GraphSyncRun, totals: ChangeResult) -> None:
    run.created, run.updated, run.deactivated = totals.users_created, totals.users_updated, totals.users_deactivated
    run.counts = {
        k: v for k, v in totals.counts().items() if k not in ("users_created", "users_updated", "users_deactivated")
    }


@dataclass
class Plan:
    changes: ChangeSet
    groups_delta_link: str | None
    users_delta_link: str | None
    tracked_groups: list[str]
    mode: str
    # Scoped groups deleted in Entra: dropped from the connection's settings when the plan is applied.
    drop_groups: list[str] = field(default_factory=list)
    # Users this plan turns from active to deactivated (what the guard counts and lists).
    deactivating: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": asdict(self.changes),
            "groups_delta_link": self.groups_delta_link,
            "users_delta_link": self.users_delta_link,
            "tracked_groups": self.tracked_groups,
            "mode": self.mode,
            "drop_groups": self.drop_groups,
            "deactivating": [list(p) for p in self.deactivating],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        c = data["changes"]
        changes = ChangeSet(
            org_id=c["org_id"],
            connection_id=c["connection_id"],
            upsert_users=[UserRecord(**u) for u in c["upsert_users"]],
            upsert_groups=[GroupRecord(**g) for g in c["upsert_groups"]],
            set_members={k: list(v) for k, v in c["set_members"].items()},
            add_members=[(g, u) for g, u in c["add_members"]],
            remove_members=[(g, u) for g, u in c["remove_members"]],
            deactivate_users=[(u, r) for u, r in c["deactivate_users"]],
            delete_users=list(c["delete_users"]),
            delete_groups=list(c["delete_groups"]),
        )
        return cls(
            changes,
            data["groups_delta_link"],
            data["users_delta_link"],
            list(data["tracked_groups"]),
            data["mode"],
            list(data.get("drop_groups", [])),
            [(u, r) for u, r in data.get("deactivating", [])],
        )


def group_record(item: dict[str, Any]) -> GroupRecord:
    """A Graph group (spec §8.4) as the directory stores it."""
    types = item.get("groupTypes") or []
    kind = "microsoft365" if "Unified" in types else "security" if item.get("securityEnabled") else "distribution"
    return GroupRecord(
        external_id=str(item["id"]),
        display_name=str(item.get("displayName") or item["id"]),
        description=item.get("description"),
        group_type=kind,
    )

"""Graph-sync tables: delta state per connection, run records, used consent states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from koppel.db.base import Base, JSONType, UTCDateTime, new_id

RUN_OUTCOMES = ("running", "succeeded", "failed", "awaiting_approval", "approved", "rejected", "abandoned")


class GraphSyncState(Base):
    """Where the next incremental run starts: the delta links of the last successful run.

    Kept apart from ``Connection.settings`` because it changes every run and is not
    configuration; deleting the row forces a full resync.
    """

    __tablename__ = "graph_sync_state"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    groups_delta_link: Mapped[str | None] = mapped_column(Text)
    users_delta_link: Mapped[str | None] = mapped_column(Text)
    # Groups whose membership the groups delta follows: the scoped ones, plus nested ones when transitive.
    tracked_groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    last_full_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GraphSyncRun(Base):
    """One sync run as an admin reads it (issue 4 §6)."""

    __tablename__ = "graph_sync_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16))  # full | delta
    outcome: Mapped[str] = mapped_column(String(24), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deactivated: Mapped[int] = mapped_column(Integer, default=0)
    graph_requests: Mapped[int] = mapped_column(Integer, default=0)
    # Progress of a long first sync: members expected (Graph's @odata.count) and processed so far.
    expected: Mapped[int | None] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    # Further counts: reactivated, deleted, members_added, members_removed, groups_*.
    counts: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    errors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # For awaiting_approval: who would go, and the changes/delta links applied on approval.
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    decided_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_graph_sync_runs_connection_started", "connection_id", "started_at"),)


class GraphConsentState(Base):
    """Hash of every consent ``state`` accepted once, so a replayed callback is rejected."""

    __tablename__ = "graph_consent_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""SCIM tokens (hashed), the provisioning log, and each organization's SCIM configuration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from koppel.db.base import Base, BigIntId, JSONType, UTCDateTime, new_id, utcnow

DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_LOG_MAX_ENTRIES = 100_000


class ScimToken(Base):
    """A Secret Token for Entra's provisioning tab. Several may be valid at once (rotation without a gap)."""

    __tablename__ = "scim_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # The organization's 'scim' connection: where this token's writes land.
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScimLogEntry(Base):
    """One SCIM request as the admin reads it: when, what, on which resource, and how it ended."""

    __tablename__ = "scim_log"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(8))
    # e.g. "create User", "query Users", "patch Group"
    operation: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[int] = mapped_column(Integer)
    scim_type: Mapped[str | None] = mapped_column(String(32))
    # The plain error an admin reads (None on success) and, for queries, the filter.
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_scim_log_org_id_id", "org_id", "id"),)


class ScimConfig(Base):
    """Per-organization SCIM settings: the custom User extension (seed 002) and log retention."""

    __tablename__ = "scim_configs"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    # e.g. "urn:ietf:params:scim:schemas:extension:8x8:1.1:User"
    extension_urn: Mapped[str | None] = mapped_column(String(255))
    # [{"name": "site", "type": "string", "mutability": "immutable"}]
    extension_attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    log_retention_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_LOG_RETENTION_DAYS)
    log_max_entries: Mapped[int] = mapped_column(Integer, default=DEFAULT_LOG_MAX_ENTRIES)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

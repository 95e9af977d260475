"""Directory users, groups and memberships, keyed by connection + the source's immutable id.

Never keyed by e-mail or UPN: those change (DESIGN.md "Directory").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Computed, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from koppel.db.base import Base, JSONType, UTCDateTime, new_id, utcnow

USER_STATUSES = ("active", "deactivated")


class DirectoryUser(Base):
    __tablename__ = "directory_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    # Entra object id (Graph `id`, token `oid`) or SCIM externalId: immutable at the source.
    external_id: Mapped[str] = mapped_column(String(255))
    user_name: Mapped[str] = mapped_column(String(320))
    # lower(user_name), kept by the database: case-insensitive lookups and uniqueness (SCIM).
    user_name_key: Mapped[str] = mapped_column(String(320), Computed("lower(user_name)", persisted=True))
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(256))
    given_name: Mapped[str | None] = mapped_column(String(128))
    family_name: Mapped[str | None] = mapped_column(String(128))
    job_title: Mapped[str | None] = mapped_column(String(128))
    department: Mapped[str | None] = mapped_column(String(128))
    mobile_phone: Mapped[str | None] = mapped_column(String(64))
    business_phone: Mapped[str | None] = mapped_column(String(64))
    user_type: Mapped[str | None] = mapped_column(String(16))  # Member | Guest
    external_user_state: Mapped[str | None] = mapped_column(String(32))  # PendingAcceptance | Accepted
    # Whether the source says the account is enabled (accountEnabled / SCIM active).
    account_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Whether koppel grants access: 'active' or 'deactivated' (left scope, disabled, deleted).
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Everything else the source sent that koppel keeps (SCIM extensions, locale, ...).
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_directory_users_org_status", "org_id", "status"),
        # case-insensitive userName lookups (SCIM) within an organization
        Index("ix_directory_users_user_name_key", "user_name_key", "org_id"),
    )


class DirectoryGroup(Base):
    __tablename__ = "directory_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(256))
    # lower(display_name), kept by the database: case-insensitive lookups (SCIM).
    display_name_key: Mapped[str] = mapped_column(String(256), Computed("lower(display_name)", persisted=True))
    description: Mapped[str | None] = mapped_column(Text)
    # security | microsoft365 | team | scim (what the source says the group is)
    group_type: Mapped[str | None] = mapped_column(String(32))
    # On-prem AD name for groups synced from Active Directory (seed 001 groups claim).
    sam_account_name: Mapped[str | None] = mapped_column(String(256))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_directory_groups_org_display_name", "org_id", "display_name"),
        Index("ix_directory_groups_connection_display_name_key", "connection_id", "display_name_key"),
    )


class Membership(Base):
    __tablename__ = "directory_memberships"

    group_id: Mapped[str] = mapped_column(ForeignKey("directory_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("directory_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Role mappings: a group (object id, or name where the token carries names) grants a role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from koppel.db.base import Base, UTCDateTime, new_id, utcnow


class RoleMapping(Base):
    __tablename__ = "role_mappings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # The group as the source names it: Entra object id, SCIM externalId, or sAMAccountName.
    group_key: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("org_id", "group_key", "role"),)

"""Organization, its verified e-mail domains, and its connections (identity sources)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from koppel.db.base import Base, JSONType, UTCDateTime, new_id, utcnow

CONNECTION_KINDS = ("entra", "oidc", "scim")
# What an admin reads on a connection (DESIGN.md "Connection").
CONNECTION_STATUSES = (
    "needs_consent",
    "consent_revoked",
    "healthy",
    "failing",
    "paused",
    "awaiting_approval",
)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    privacy_statement_url: Mapped[str | None] = mapped_column(String(2000))
    terms_of_use_url: Mapped[str | None] = mapped_column(String(2000))
    terms_of_use_text: Mapped[str | None] = mapped_column(Text)
    terms_version: Mapped[int] = mapped_column(Integer, default=1)
    # Role policy (seed 001 "koppelvlaktabel"): role given when no mapping matches, or deny.
    default_role: Mapped[str | None] = mapped_column(String(100))
    deny_unmapped: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    domains: Mapped[list[OrganizationDomain]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", order_by="OrganizationDomain.domain"
    )


class OrganizationDomain(Base):
    """An e-mail domain of the organization, used for home-realm discovery and access policy."""

    __tablename__ = "organization_domains"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="domains")


class Connection(Base):
    """One identity source of an organization: ``entra`` (Graph pull / SSO), ``oidc``, ``scim`` (push).

    ``settings`` holds the non-secret configuration; ``secrets`` the encrypted ones
    (``koppel.security.crypto``), never returned by the API.
    """

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="healthy")
    last_error: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secrets: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("org_id", "name"),)

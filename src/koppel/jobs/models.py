"""Leases: how in-process runners in different processes share one database's locks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from koppel.db.base import Base, UTCDateTime


class JobLease(Base):
    """``key`` is held by ``holder`` until ``expires_at`` (renewed while the job runs)."""

    __tablename__ = "job_leases"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

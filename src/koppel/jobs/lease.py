"""Database leases for lock keys (the in-process backend's cross-process lock).

A lease is a row ``(key, holder, expires_at)``. It is taken when absent or expired, renewed
while the job runs, and deleted when it ends. A process that dies stops renewing, so its
lease lapses after ``ttl`` and another process may take the key. Each call is one short
transaction, so a lease never holds a database lock while the job itself runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from koppel.jobs.models import JobLease


def acquire(factory: sessionmaker[Session], *, key: str, holder: str, now: datetime, ttl: float) -> bool:
    """Take ``key`` for ``holder`` until ``now + ttl``; False when someone else holds it."""
    expires = now + timedelta(seconds=ttl)
    try:
        with factory() as session, session.begin():
            lease = session.get(JobLease, key, with_for_update=True)
            if lease is None:
                session.add(JobLease(key=key, holder=holder, expires_at=expires))
                return True
            if lease.holder != holder and lease.expires_at > now:
                return False
            lease.holder, lease.expires_at = holder, expires
            return True
    except IntegrityError:
        return False  # another process inserted the same key first


def renew(factory: sessionmaker[Session], *, key: str, holder: str, now: datetime, ttl: float) -> bool:
    """Extend our lease; False if it lapsed and someone else took it meanwhile."""
    with factory() as session, session.begin():
        result = session.execute(
            update(JobLease)
            .where(JobLease.key == key, JobLease.holder == holder)
            .values(expires_at=now + timedelta(seconds=ttl))
        )
        return bool(getattr(result, "rowcount", 0))


def release(factory: sessionmaker[Session], *, key: str, holder: str) -> None:
    with factory() as session, session.begin():
        session.execute(delete(JobLease).where(JobLease.key == key, JobLease.holder == holder))

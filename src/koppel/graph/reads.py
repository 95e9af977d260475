"""What the sync engine reads from koppel's directory: set-based queries, never one per user."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.directory.models import DirectoryGroup, DirectoryUser, Membership
from koppel.directory.service import chunks


@dataclass
class KnownUser:
    status: str
    groups: set[str] = field(default_factory=set)  # external ids of the (scoped) groups it is in


def active_among(session: Session, connection_id: str, external_ids: Iterable[str]) -> set[str]:
    """Which of these users koppel has as active."""
    found: set[str] = set()
    for part in chunks(sorted(set(external_ids))):
        found.update(
            session.scalars(
                select(DirectoryUser.external_id).where(
                    DirectoryUser.connection_id == connection_id,
                    DirectoryUser.status == "active",
                    DirectoryUser.external_id.in_(part),
                )
            )
        )
    return found


def known_users(session: Session, connection_id: str, external_ids: Iterable[str]) -> dict[str, KnownUser]:
    """Status and group memberships of these users (missing ones are not in koppel)."""
    out: dict[str, KnownUser] = {}
    for part in chunks(sorted(set(external_ids))):
        rows = session.execute(
            select(DirectoryUser.external_id, DirectoryUser.status).where(
                DirectoryUser.connection_id == connection_id, DirectoryUser.external_id.in_(part)
            )
        )
        out.update({ext: KnownUser(status) for ext, status in rows})
        pairs = session.execute(
            select(DirectoryUser.external_id, DirectoryGroup.external_id)
            .join(Membership, Membership.user_id == DirectoryUser.id)
            .join(DirectoryGroup, DirectoryGroup.id == Membership.group_id)
            .where(DirectoryUser.connection_id == connection_id, DirectoryUser.external_id.in_(part))
        )
        for user_ext, group_ext in pairs:
            out[user_ext].groups.add(group_ext)
    return out


def group_member_ids(session: Session, connection_id: str, group_external_id: str) -> Iterator[str]:
    """External ids of the users koppel has in this group."""
    yield from session.scalars(
        select(DirectoryUser.external_id)
        .join(Membership, Membership.user_id == DirectoryUser.id)
        .join(DirectoryGroup, DirectoryGroup.id == Membership.group_id)
        .where(DirectoryGroup.connection_id == connection_id, DirectoryGroup.external_id == group_external_id)
        .execution_options(yield_per=5000)
    )


def group_ids(session: Session, connection_id: str) -> set[str]:
    return set(session.scalars(select(DirectoryGroup.external_id).where(DirectoryGroup.connection_id == connection_id)))


def active_user_ids(session: Session, connection_id: str) -> Iterator[str]:
    yield from session.scalars(
        select(DirectoryUser.external_id)
        .where(DirectoryUser.connection_id == connection_id, DirectoryUser.status == "active")
        .execution_options(yield_per=5000)
    )


def count_active(session: Session, connection_id: str) -> int:
    from sqlalchemy import func

    query = select(func.count()).where(DirectoryUser.connection_id == connection_id, DirectoryUser.status == "active")
    return int(session.scalar(query) or 0)


def names_of(session: Session, connection_id: str, external_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """user_name and display_name, for the list of who would be deactivated."""
    out: dict[str, tuple[str, str | None]] = {}
    for part in chunks(sorted(set(external_ids))):
        rows = session.execute(
            select(DirectoryUser.external_id, DirectoryUser.user_name, DirectoryUser.display_name).where(
                DirectoryUser.connection_id == connection_id, DirectoryUser.external_id.in_(part)
            )
        )
        out.update({ext: (name, display) for ext, name, display in rows})
    return out


def expired_deactivated(session: Session, connection_id: str, before: datetime) -> list[str]:
    """Users deactivated before ``before``: due for the optional hard delete."""
    return list(
        session.scalars(
            select(DirectoryUser.external_id).where(
                DirectoryUser.connection_id == connection_id,
                DirectoryUser.status == "deactivated",
                DirectoryUser.deactivated_at < before,
            )
        )
    )

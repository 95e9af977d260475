"""What a source (Graph sync, SCIM, invitations) asks the directory to change: plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Fields of DirectoryUser that a source sets; everything else goes into ``attributes``.
USER_FIELDS = (
    "user_name",
    "email",
    "display_name",
    "given_name",
    "family_name",
    "job_title",
    "department",
    "mobile_phone",
    "business_phone",
    "user_type",
    "external_user_state",
    "account_enabled",
    "attributes",
)
GROUP_FIELDS = ("display_name", "description", "group_type", "sam_account_name", "attributes")


@dataclass
class UserRecord:
    """A user as the source has it now. ``external_id`` is the source's immutable id."""

    external_id: str
    user_name: str
    email: str | None = None
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    job_title: str | None = None
    department: str | None = None
    mobile_phone: str | None = None
    business_phone: str | None = None
    user_type: str | None = None
    external_user_state: str | None = None
    account_enabled: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class GroupRecord:
    external_id: str
    display_name: str
    description: str | None = None
    group_type: str | None = None
    sam_account_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChangeSet:
    """Changes for one connection, applied in one transaction by ``service.apply_changes``.

    Order of application: groups upserted, users upserted, memberships (set, add, remove),
    users deactivated, users deleted, groups deleted. Membership pairs are
    ``(group external_id, user external_id)``.
    """

    org_id: str
    connection_id: str
    upsert_users: list[UserRecord] = field(default_factory=list)
    upsert_groups: list[GroupRecord] = field(default_factory=list)
    set_members: dict[str, list[str]] = field(default_factory=dict)
    add_members: list[tuple[str, str]] = field(default_factory=list)
    remove_members: list[tuple[str, str]] = field(default_factory=list)
    # (user external_id, reason an admin reads, e.g. "left every scoped group")
    deactivate_users: list[tuple[str, str]] = field(default_factory=list)
    delete_users: list[str] = field(default_factory=list)
    delete_groups: list[str] = field(default_factory=list)


@dataclass
class ChangeResult:
    users_created: int = 0
    users_updated: int = 0
    users_reactivated: int = 0
    users_deactivated: int = 0
    users_deleted: int = 0
    groups_created: int = 0
    groups_updated: int = 0
    groups_deleted: int = 0
    members_added: int = 0
    members_removed: int = 0
    # external_id -> koppel id of every user and group touched
    user_ids: dict[str, str] = field(default_factory=dict)
    group_ids: dict[str, str] = field(default_factory=dict)
    events: int = 0

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}

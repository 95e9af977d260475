"""The organization as a login reads it: a few columns, not the ORM entity (building one per request
costs more than the query on the login path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from koppel.organizations.models import Organization


@dataclass(frozen=True)
class OrgRef:
    id: str
    slug: str
    name: str
    settings: dict[str, Any]
    default_role: str | None
    deny_unmapped: bool


COLUMNS = (
    Organization.id,
    Organization.slug,
    Organization.name,
    Organization.settings,
    Organization.default_role,
    Organization.deny_unmapped,
)


def org_ref(row: Any) -> OrgRef:
    """An ``OrgRef`` from a row whose first columns are ``COLUMNS``."""
    return OrgRef(row[0], row[1], row[2], dict(row[3] or {}), row[4], bool(row[5]))

"""Graph collections, paging and delta rounds on plain JSON (spec §8.4 paging, §8.5 delta).

A collection page is ``{"value": [...], "@odata.nextLink": url}``; the last page of a delta
round carries ``@odata.deltaLink`` instead. Links are used verbatim (spec §8.4: clients must
not rebuild them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
# What koppel stores of a user (spec §8.3: everything past the defaults needs $select).
USER_SELECT = (
    "id,userPrincipalName,mail,displayName,givenName,surname,jobTitle,department,mobilePhone,"
    "businessPhones,accountEnabled,userType,externalUserState,preferredLanguage"
)
GROUP_SELECT = "id,displayName,description,securityEnabled,mailEnabled,groupTypes"
PAGE_SIZE = 999  # the maximum for directory objects (spec §8.4, I-G999)


def members_url(graph: str, group_id: str, *, transitive: bool) -> str:
    """First page of a group's (direct or transitive) members with the user ``$select``."""
    segment = "transitiveMembers" if transitive else "members"
    query = urlencode({"$select": USER_SELECT, "$top": PAGE_SIZE}, safe="$,")
    return f"{graph}/v1.0/groups/{quote(group_id)}/{segment}?{query}"


def group_url(graph: str, group_id: str) -> str:
    return f"{graph}/v1.0/groups/{quote(group_id)}?$select={GROUP_SELECT}"


def groups_delta_url(graph: str, group_ids: Iterable[str]) -> str:
    """A new delta round over the scoped groups only (``$filter=id eq`` takes ≤50 ids, §8.5)."""
    ids = sorted(group_ids)[:50]
    flt = " or ".join(f"id eq '{g}'" for g in ids)
    query = urlencode({"$select": "displayName,description,members", "$filter": flt}, safe="$,'")
    return f"{graph}/v1.0/groups/delta?{query}"


def users_delta_url(graph: str) -> str:
    """A new users delta round with the stored attributes (§8.5); ``latest`` skips the backlog."""
    query = urlencode({"$select": USER_SELECT, "$deltatoken": "latest"}, safe="$,")
    return f"{graph}/v1.0/users/delta?{query}"


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_link: str | None
    delta_link: str | None


def parse_page(body: Any) -> Page:
    """One collection page; a body without ``value`` is a protocol error, not an empty page."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ValueError("Graph answered a collection request without a 'value' list")
    items = [item for item in body["value"] if isinstance(item, dict)]
    return Page(items, body.get("@odata.nextLink"), body.get("@odata.deltaLink"))


def is_user(item: dict[str, Any]) -> bool:
    # Direct members may also be groups, contacts, devices, service principals (§8.4).
    return bool(item.get("@odata.type", USER_TYPE) == USER_TYPE)


def removed_reason(item: dict[str, Any]) -> str | None:
    """``changed`` (soft-deleted, restorable) or ``deleted`` for a removed delta object (§8.5)."""
    removed = item.get("@removed")
    return str(removed.get("reason", "deleted")) if isinstance(removed, dict) else None


@dataclass
class GroupDelta:
    """What one groups-delta round said about a group: member ids added and removed."""

    group_id: str
    removed: bool = False
    added_users: set[str] = field(default_factory=set)
    removed_users: set[str] = field(default_factory=set)
    added_groups: set[str] = field(default_factory=set)
    removed_groups: set[str] = field(default_factory=set)


def merge_group_delta(into: dict[str, GroupDelta], item: dict[str, Any]) -> None:
    """Fold one group object of a delta page in; large groups repeat across pages (§8.5)."""
    delta = into.setdefault(str(item["id"]), GroupDelta(str(item["id"])))
    if removed_reason(item) is not None:
        delta.removed = True
    for member in item.get("members@delta") or []:
        mid, gone = str(member["id"]), removed_reason(member) is not None
        group = member.get("@odata.type") == GROUP_TYPE
        added, dropped = (
            (delta.added_groups, delta.removed_groups) if group else (delta.added_users, delta.removed_users)
        )
        (dropped if gone else added).add(mid)
        (added if gone else dropped).discard(mid)  # the later slice wins within one round

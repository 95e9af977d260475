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


FILTER_IDS = 15  # Graph takes at most 15 'or' clauses in a $filter on directory objects
# Sent on the first page only (spec §8.4: clients do not replay it on nextLink): Graph then adds
# @odata.count, which drives the progress bar of a long first sync.
COUNT_HEADERS = {"ConsistencyLevel": "eventual"}


def members_url(graph: str, group_id: str, *, transitive: bool) -> str:
    """First page of a group's (direct or transitive) members with the user ``$select`` and a count."""
    segment = "transitiveMembers" if transitive else "members"
    query = urlencode({"$select": USER_SELECT, "$top": PAGE_SIZE, "$count": "true"}, safe="$,")
    return f"{graph}/v1.0/groups/{quote(group_id)}/{segment}?{query}"


def users_by_id_url(graph: str, user_ids: Iterable[str]) -> str:
    """Users by object id (at most ``FILTER_IDS``), for members a delta round added (§8.3)."""
    flt = " or ".join(f"id eq '{u}'" for u in user_ids)
    query = urlencode({"$select": USER_SELECT, "$filter": flt}, safe="$,'")
    return f"{graph}/v1.0/users?{query}"


def group_url(graph: str, group_id: str) -> str:
    return f"{graph}/v1.0/groups/{quote(group_id)}?$select={GROUP_SELECT}"


DELTA_FILTER_MAX = 50


def groups_delta_url(graph: str, group_ids: Iterable[str]) -> str:
    """A delta link "from now" over the given groups (``$filter=id eq`` takes ≤50 ids, §8.5).

    ``$deltatoken=latest`` skips the backlog: the members were just listed by a full run.
    """
    ids = sorted(group_ids)
    if len(ids) > DELTA_FILTER_MAX:  # a truncated filter would silently stop following the rest
        raise ValueError(f"groups/delta follows at most {DELTA_FILTER_MAX} groups, not {len(ids)}")
    flt = " or ".join(f"id eq '{g}'" for g in ids)
    query = urlencode(
        {"$select": "displayName,description,securityEnabled,members", "$filter": flt, "$deltatoken": "latest"},
        safe="$,'",
    )
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
    count: int | None = None  # @odata.count, on the first page when asked for


def parse_page(body: Any) -> Page:
    """One collection page; a body without ``value`` is a protocol error, not an empty page."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ValueError("Graph answered a collection request without a 'value' list")
    items = [item for item in body["value"] if isinstance(item, dict)]
    count = body.get("@odata.count")
    return Page(
        items, body.get("@odata.nextLink"), body.get("@odata.deltaLink"), count if isinstance(count, int) else None
    )


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
    props: dict[str, Any] = field(default_factory=dict)  # displayName etc. as the round last showed them
    added_users: set[str] = field(default_factory=set)
    removed_users: set[str] = field(default_factory=set)
    added_groups: set[str] = field(default_factory=set)
    removed_groups: set[str] = field(default_factory=set)


def merge_group_delta(into: dict[str, GroupDelta], item: dict[str, Any]) -> None:
    """Fold one group object of a delta page in; large groups repeat across pages (§8.5)."""
    delta = into.setdefault(str(item["id"]), GroupDelta(str(item["id"])))
    if removed_reason(item) is not None:
        delta.removed = True
    delta.props.update({k: v for k, v in item.items() if not k.startswith("@") and k != "members@delta"})
    for member in item.get("members@delta") or []:
        mid, gone = str(member["id"]), removed_reason(member) is not None
        group = member.get("@odata.type") == GROUP_TYPE
        added, dropped = (
            (delta.added_groups, delta.removed_groups) if group else (delta.added_users, delta.removed_users)
        )
        (dropped if gone else added).add(mid)
        (added if gone else dropped).discard(mid)  # the later slice wins within one round

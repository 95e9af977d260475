"""``$filter``, ``$search``, ``$orderby`` and ``$count`` on ``/users`` and ``/groups``, with Graph's advanced-query
rules (spec §8.4; https://learn.microsoft.com/graph/aad-advanced-queries).

- The *advanced query parameters* are the header ``ConsistencyLevel: eventual`` and ``$count=true``.
- ``ne``, ``not`` and ``endsWith`` in ``$filter`` need both, else 400 ``Request_UnsupportedQuery`` naming the
  operator (filters.py). ``$search`` needs the header only, else 400 with Graph's message (search.py).
- ``$orderby``: ``displayName`` (users, groups) and ``userPrincipalName`` (users) sort ascending by default;
  together with ``$filter`` they need both parameters ("Using $filter and $orderby together is supported only
  with advanced queries", same page); descending too, as Graph refused ``desc`` on users without them
  (microsoftgraph/microsoft-graph-docs#127). Without them Graph answers "Sorting not supported for current
  query." (microsoftgraph/microsoft-graph-docs#10835); other properties "Unsupported sort property".
- ``$count=true`` without the header is silently ignored; the ``/$count`` segment without it is 400
  ``Request_BadRequest`` "$count is not currently supported." (same page, "Error handling").
- Clients do not replay ``ConsistencyLevel`` on a nextLink ([G-PAGE]): the page token carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from entra_simulator.errors import GraphError
from entra_simulator.graph.filters import Filter, needs_advanced, parse_filter
from entra_simulator.graph.paging import page_token, snapshots
from entra_simulator.graph.search import needs_eventual, parse_search
from entra_simulator.graph.wire import sim_of
from entra_simulator.model import Tenant


@dataclass(frozen=True)
class Resource:
    """A directory collection and what its properties support."""

    name: str
    type_name: str
    objects: Callable[[Tenant], Mapping[str, Any]]
    filterable: frozenset[str]
    ends_with: frozenset[str]
    searchable: frozenset[str]
    sortable: frozenset[str]


# Any string property $filter takes can be searched too ("search" on displayName/description, else startsWith).
_USER_TEXT = frozenset(
    {
        "displayName",
        "givenName",
        "surname",
        "mail",
        "userPrincipalName",
        "mailNickname",
        "userType",
        "jobTitle",
        "department",
    }
)
_GROUP_TEXT = frozenset({"displayName", "mailNickname", "mail", "onPremisesSamAccountName"})
USERS = Resource(
    "users",
    "User",
    lambda tenant: tenant.users,
    frozenset({*_USER_TEXT, "id", "accountEnabled"}),
    frozenset({"mail", "userPrincipalName"}),
    _USER_TEXT,
    frozenset({"displayName", "userPrincipalName"}),
)
GROUPS = Resource(
    "groups",
    "Group",
    lambda tenant: tenant.groups,
    frozenset({*_GROUP_TEXT, "id", "mailEnabled", "securityEnabled"}),
    frozenset({"mail"}),
    frozenset({*_GROUP_TEXT, "description"}),
    frozenset({"displayName"}),
)


@dataclass(frozen=True)
class Consistency:
    """Whether the request (or the first page it continues) sent ``ConsistencyLevel: eventual`` and ``$count``."""

    eventual: bool
    count: bool

    @property
    def advanced(self) -> bool:
        return self.eventual and self.count

    def carry(self) -> dict[str, Any]:
        return {"e": 1} if self.eventual else {}


def consistency(request: Request, *, count_segment: bool = False) -> Consistency:
    header = request.headers.get("consistencylevel", "").lower() == "eventual"
    counted = count_segment or request.query_params.get("$count", "").lower() == "true"
    return Consistency(header or bool(page_token(request).get("e")), counted)


def count_not_supported() -> GraphError:
    return GraphError(400, "Request_BadRequest", "$count is not currently supported.")


def _sorting_not_supported() -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")


def _order(raw: str | None, resource: Resource, level: Consistency, filtered: bool) -> tuple[str, bool] | None:
    """``(property, descending)`` of ``$orderby``, or None; one property, as directory objects sort by."""
    if not raw or not raw.strip():
        return None
    words = raw.split()
    if "," in raw or len(words) > 2:
        raise _sorting_not_supported()
    direction = words[1].lower() if len(words) == 2 else "asc"
    if direction not in ("asc", "desc"):
        raise GraphError(400, "BadRequest", f"Invalid $orderby '{raw}': use '<property> asc' or '<property> desc'.")
    if words[0] not in resource.sortable:
        message = f"Unsupported sort property '{words[0]}' for '{resource.type_name}'."
        raise GraphError(400, "Request_UnsupportedQuery", message)
    if (filtered or direction == "desc") and not level.advanced:
        raise _sorting_not_supported()
    return words[0], direction == "desc"


def checked_filter(
    request: Request, allowed: frozenset[str], type_name: str, ends_with: frozenset[str], level: Consistency
) -> Filter | None:
    """``$filter`` parsed, refused as Graph does when it uses ``ne``/``not``/``endsWith`` without both parameters."""
    found = parse_filter(request.query_params.get("$filter"), allowed, type_name, ends_with)
    if found is not None and found.advanced and not level.advanced:
        raise needs_advanced(found.advanced[0])
    return found


def matching(request: Request, resource: Resource, tenant: Tenant, level: Consistency) -> list[str]:
    """The ids of the users or groups that pass ``$search`` and ``$filter``, sorted by ``$orderby``.

    Each list is built once per directory change and query (``Snapshots``), so later pages are slices.
    """
    params = request.query_params
    search = parse_search(params.get("$search"), resource.searchable, resource.type_name)
    if search is not None and not level.eventual:
        raise needs_eventual()
    found = checked_filter(request, resource.filterable, resource.type_name, resource.ends_with, level)
    order = _order(params.get("$orderby"), resource, level, found is not None)
    objects = resource.objects(tenant)
    cache, sim = snapshots(request), sim_of(request)
    ids = cache.get(sim, tenant, (resource.name,), lambda: list(objects))
    if search is None and found is None and order is None:
        return ids
    tests = [t for t in (search, found) if t is not None]

    def build() -> list[str]:
        picked = [i for i in ids if (o := objects.get(i)) is not None and all(t(o.props) for t in tests)]
        return picked if order is None else _sorted(picked, objects, *order)

    key = (resource.name, *(params.get(k, "") for k in ("$search", "$filter", "$orderby")))
    return cache.query(sim, tenant, key, build)


def _sorted(ids: list[str], objects: Mapping[str, Any], name: str, descending: bool) -> list[str]:
    """By the property, case-insensitively; objects without it last either way."""
    keyed = [(value.lower(), i) for i in ids if isinstance(value := objects[i].props.get(name), str)]
    keyed.sort(reverse=descending)
    return [i for _, i in keyed] + [i for i in ids if not isinstance(objects[i].props.get(name), str)]

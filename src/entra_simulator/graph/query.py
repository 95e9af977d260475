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
from entra_simulator.graph.filters import needs_advanced, parse_filter
from entra_simulator.graph.paging import page_token
from entra_simulator.graph.search import needs_eventual, parse_search
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


_USER_TEXT = frozenset({"displayName", "givenName", "surname", "mail", "userPrincipalName", "mailNickname"})
USERS = Resource(
    "users",
    "User",
    lambda tenant: tenant.users,
    frozenset({*_USER_TEXT, "id", "userType", "accountEnabled", "jobTitle", "department"}),
    frozenset({"mail", "userPrincipalName"}),
    _USER_TEXT,
    frozenset({"displayName", "userPrincipalName"}),
)
GROUPS = Resource(
    "groups",
    "Group",
    lambda tenant: tenant.groups,
    frozenset(
        {"id", "displayName", "mailNickname", "mail", "onPremisesSamAccountName", "mailEnabled", "securityEnabled"}
    ),
    frozenset({"mail"}),
    frozenset({"displayName", "description", "mail", "mailNickname"}),
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


def matching(request: Request, resource: Resource, tenant: Tenant, ids: list[str], level: Consistency) -> list[str]:
    """The ids (in ``ids``' order unless ``$orderby``) that pass ``$search`` and ``$filter``."""
    params = request.query_params
    search = parse_search(params.get("$search"), resource.searchable, resource.type_name)
    if search is not None and not level.eventual:
        raise needs_eventual()
    found = parse_filter(params.get("$filter"), resource.filterable, resource.type_name, resource.ends_with)
    if found is not None and found.advanced and not level.advanced:
        raise needs_advanced(found.advanced[0])
    order = _order(params.get("$orderby"), resource, level, found is not None)
    if search is None and found is None and order is None:
        return ids
    objects = resource.objects(tenant)
    tests = [t for t in (search, found) if t is not None]
    picked = [i for i in ids if (o := objects.get(i)) is not None and all(t(o.props) for t in tests)]
    if order is None:
        return picked
    name, descending = order
    keyed = [(value.lower(), i) for i in picked if isinstance(value := objects[i].props.get(name), str)]
    keyed.sort(reverse=descending)
    unset = [i for i in picked if not isinstance(objects[i].props.get(name), str)]
    return [i for _, i in keyed] + unset

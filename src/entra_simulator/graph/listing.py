"""A page of ``/users`` or ``/groups`` and their ``/$count`` segment (spec §8.4; [G-AQ], [G-PAGE])."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from entra_simulator.graph import shapes
from entra_simulator.graph.paging import link, page_slice, parse_top
from entra_simulator.graph.query import USERS, Consistency, Resource, consistency, count_not_supported, matching
from entra_simulator.graph.wire import collection, plain
from entra_simulator.model import Tenant


def fragment(name: str, select: shapes.Selection) -> str:
    return f"{name}({','.join(select)})" if select else name


def odata_count(request: Request, level: Consistency, total: int) -> dict[str, Any]:
    """``@odata.count`` on the first page, only with ``ConsistencyLevel: eventual`` (spec §8.4 advanced queries)."""
    first = "$skiptoken" not in request.query_params
    return {"@odata.count": total} if level.count and level.eventual and first else {}


def list_page(request: Request, tenant: Tenant, resource: Resource, select: shapes.Selection) -> Response:
    """A page of ``/users`` or ``/groups``; the nextLink keeps the query and carries ``ConsistencyLevel``."""
    level = consistency(request)
    ids = matching(request, resource, tenant, level)
    page, token = page_slice(request, ids, parse_top(request), level.carry())
    render = shapes.user_json if resource is USERS else shapes.group_json
    objects = resource.objects(tenant)
    items = [render(o, select) for i in page if (o := objects.get(i)) is not None]
    next_link = link(request, f"/{resource.name}", **{"$skiptoken": token}) if token else None
    extra = odata_count(request, level, len(ids))
    return collection(request, fragment(resource.name, select), items, next_link=next_link, extra=extra)


def count_segment(request: Request, tenant: Tenant, resource: Resource) -> Response:
    """``/users/$count``, ``/groups/$count``: the bare number as ``text/plain``, only with ``ConsistencyLevel:
    eventual`` ([G-AQ]; https://learn.microsoft.com/graph/api/user-list, "Get only a count of users")."""
    level = consistency(request, count_segment=True)
    if not level.eventual:
        raise count_not_supported()
    return plain(request, str(len(matching(request, resource, tenant, level))))

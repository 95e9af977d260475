"""Paging: ``$top``, opaque signed ``$skiptoken``/``$deltatoken`` values and member-list snapshots (spec §8.4).

A page token carries the position (and, for delta, the round) as signed JSON, so any process holding the
simulator's secret can continue it and a tampered or foreign token is recognised. Member lists are snapshotted
once per directory change (the tenant's change-log sequence), so each page is a slice: no per-page work in the
size of the group (issue 3 §6).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from entra_simulator.errors import GraphError
from entra_simulator.graph.wire import graph_base, sim_of
from entra_simulator.model import Group, Tenant
from entra_simulator.state import Simulator

MAX_TOP = 999  # directory objects (spec §8.4, I-G999)
DEFAULT_TOP = 100


def parse_top(request: Request, default: int = DEFAULT_TOP) -> int:
    raw = request.query_params.get("$top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        raise GraphError(400, "Request_BadRequest", f"Invalid value '{raw}' for query option $top.") from None
    if not 1 <= top <= MAX_TOP:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive.",
        )
    return top


def expired_page_token() -> GraphError:
    return GraphError(
        400,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
    )


def encode_token(sim: Simulator, payload: dict[str, Any]) -> str:
    data = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")
    mac = hmac.new(sim.token_secret, data, hashlib.sha256).digest()[:12]
    return f"{data.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def decode_token(sim: Simulator, token: str) -> dict[str, Any] | None:
    """The payload of a token this simulator issued, or None for anything else."""
    data, _, mac = token.partition(".")
    expected = base64.urlsafe_b64encode(hmac.new(sim.token_secret, data.encode(), hashlib.sha256).digest()[:12])
    if not hmac.compare_digest(expected.rstrip(b"=").decode(), mac):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def link(request: Request, path: str, **params: str | int | None) -> str:
    """An absolute link on this simulator keeping the request's query except the given (replaced) options."""
    query = {k: v for k, v in request.query_params.items() if k not in params}
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return f"{graph_base(request)}{path}?{urlencode(query, safe='$,()')}"


class Snapshots:
    """Id lists (a group's direct or transitive members, all users, all groups) rebuilt only after a change.

    Lists of a query (``$filter``/``$search``/``$orderby``) are kept too, but only the ``QUERY_LISTS`` most
    recently used: their keys come from clients, and a client pages through one query at a time.
    """

    QUERY_LISTS = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: dict[tuple[str, ...], tuple[int, list[str]]] = {}
        self._queries: OrderedDict[tuple[str, ...], tuple[int, list[str]]] = OrderedDict()

    def get(self, sim: Simulator, tenant: Tenant, key: tuple[str, ...], build: Callable[[], list[str]]) -> list[str]:
        return self._fetch(self._lists, sim, tenant, key, build)

    def query(self, sim: Simulator, tenant: Tenant, key: tuple[str, ...], build: Callable[[], list[str]]) -> list[str]:
        ids = self._fetch(self._queries, sim, tenant, key, build)
        with self._lock:
            while len(self._queries) > self.QUERY_LISTS:
                self._queries.popitem(last=False)
        return ids

    def _fetch(
        self,
        store: dict[tuple[str, ...], tuple[int, list[str]]],
        sim: Simulator,
        tenant: Tenant,
        key: tuple[str, ...],
        build: Callable[[], list[str]],
    ) -> list[str]:
        version = sim.directory.log(tenant).seq
        full_key = (tenant.id, *key)
        cached = store.get(full_key)
        if cached is not None and cached[0] == version:
            if isinstance(store, OrderedDict):
                with self._lock:
                    if full_key in store:
                        store.move_to_end(full_key)
            return cached[1]
        ids = build()
        with self._lock:
            store[full_key] = (version, ids)
        return ids

    def members(self, sim: Simulator, tenant: Tenant, group: Group, *, transitive: bool) -> list[str]:
        key = ("transitive" if transitive else "members", group.id)
        return self.get(sim, tenant, key, lambda: _transitive(tenant, group) if transitive else list(group.members))


def _transitive(tenant: Tenant, group: Group) -> list[str]:
    """Members of the group and of every nested group, nested groups included, each once (spec §8.4)."""
    seen: dict[str, None] = {}
    visited = {group.id}
    stack = [group]
    while stack:
        current = stack.pop()
        for member_id in list(current.members):
            seen.setdefault(member_id, None)
            nested = tenant.groups.get(member_id)
            if nested is not None and nested.id not in visited:
                visited.add(nested.id)
                stack.append(nested)
    seen.pop(group.id, None)
    return list(seen)


def snapshots(request: Request) -> Snapshots:
    state = request.app.state
    cache: Snapshots | None = getattr(state, "graph_snapshots", None)
    if cache is None:
        cache = state.graph_snapshots = Snapshots()
    return cache


def page_token(request: Request) -> dict[str, Any]:
    """The payload of the request's ``$skiptoken`` ({} on a first page); a foreign or tampered one is Graph's 400."""
    raw = request.query_params.get("$skiptoken")
    if not raw:
        return {}
    payload = decode_token(sim_of(request), raw)
    if payload is None or not isinstance(payload.get("o"), int):
        raise expired_page_token()
    return payload


def page_slice(
    request: Request, ids: list[str], top: int, carry: dict[str, Any] | None = None
) -> tuple[list[str], str | None]:
    """The ids of this page and the ``$skiptoken`` of the next one (None on the last page).

    ``carry`` goes into the next token (signed), for what the next request will not repeat: clients do not send
    ``ConsistencyLevel`` again on a nextLink (spec §8.4, [G-PAGE]).
    """
    offset = page_token(request).get("o", 0)
    end = offset + top
    token = encode_token(sim_of(request), {"o": end, **(carry or {})}) if end < len(ids) else None
    return ids[offset:end], token

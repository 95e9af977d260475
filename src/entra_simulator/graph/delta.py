"""``/users/delta`` and ``/groups/delta`` (spec §8.5) replayed from the tenant's change log.

A round is named by two change-log sequence numbers: ``after`` (the previous deltaLink; -1 for the initial
round) and ``upto`` (the log position when the round started). The initial round lists every object that
existed at ``upto``; a later round lists the objects the log slice ``(after, upto]`` touched, in their current
state, deleted ones as ``@removed`` and membership changes as ``members@delta``. Every page but the last has an
``@odata.nextLink`` (``$skiptoken``); the last has the ``@odata.deltaLink`` (``$deltatoken``) for the next
round. Both tokens are signed and carry the round's ``$select``/``$filter``, as Graph's do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from entra_simulator.changelog import GROUP, USER
from entra_simulator.errors import GraphError
from entra_simulator.graph.paging import decode_token, encode_token, link
from entra_simulator.graph.shapes import (
    GROUP_DEFAULT,
    GROUP_LISTS,
    GROUP_PROPERTIES,
    GROUP_TYPE,
    USER_DEFAULT,
    USER_LISTS,
    USER_PROPERTIES,
    USER_TYPE,
    parse_select,
)
from entra_simulator.graph.wire import collection, dumps, graph_base, sim_of
from entra_simulator.model import Tenant
from entra_simulator.state import Simulator

MEMBERS_PER_ITEM = 1000  # a larger group repeats on later items with the next slice of members@delta (§8.5)
_FILTER_ID = re.compile(r"^\s*id\s+eq\s+'([0-9A-Za-z-]+)'\s*$")
_RESYNC_MESSAGE = (
    "Resync required. Replace any local items with the server's version (including deletes) if you're sure that "
    "the service was up to date with your local changes when you last sync'd. Upload any local changes that the "
    "server doesn't know about."
)
Position = tuple[int, int]  # (object index in the round, members@delta slice index)


@dataclass
class Touch:
    """What a later round saw happen to one object: member changes (True = added) and updated properties."""

    members: dict[str, bool] = field(default_factory=dict)
    props: set[str] = field(default_factory=set)
    created: bool = False


@dataclass(frozen=True)
class Round:
    kind: str
    after: int  # -1: initial round
    upto: int
    select: tuple[str, ...] | None
    ids: tuple[str, ...] | None  # $filter=id eq '..' or ...
    issued: float

    @property
    def tracks_members(self) -> bool:
        return self.kind == GROUP and (self.select is None or "members" in self.select)

    @property
    def names(self) -> tuple[str, ...]:
        """The properties shown, ``id`` always included and first."""
        if self.select is None:
            default = USER_DEFAULT if self.kind == USER else GROUP_DEFAULT
            return ("id", *(n for n in default if n != "id"))
        return ("id", *(n for n in self.select if n not in ("id", "members")))

    def token(self, **changes: Any) -> dict[str, Any]:
        payload = {"k": self.kind, "a": self.after, "u": self.upto, "s": self.select, "f": self.ids}
        return {**payload, "t": self.issued, **changes}


def _sync_state_not_found() -> GraphError:
    return GraphError(
        410,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token has expired or is not valid; start a new delta "
        "round without a $deltatoken.",
    )


def _parse_filter(raw: str | None) -> tuple[str, ...] | None:
    if not raw:
        return None
    ids: list[str] = []
    for clause in re.split(r"\s+or\s+", raw.strip()):
        match = _FILTER_ID.match(clause)
        if match is None:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                "Unsupported query. Delta queries support $filter only as id eq '<id>' clauses joined by 'or'.",
            )
        ids.append(match.group(1))
    if len(ids) > 50:
        raise GraphError(400, "Request_UnsupportedQuery", "A delta $filter takes at most 50 ids.")
    return tuple(ids)


def _check_fresh(sim: Simulator, tenant: Tenant, request: Request, rnd: Round) -> None:
    if tenant.id in sim.resync_required:
        sim.resync_required.discard(tenant.id)
        select = ",".join(rnd.select) if rnd.select else None
        location = link(request, _path(rnd.kind), **{"$select": select, "$deltatoken": "", "$skiptoken": None})
        raise GraphError(410, "resyncRequired", _RESYNC_MESSAGE, {"Location": location})
    too_old = sim.clock() - rnd.issued > sim.settings.delta_token_ttl_seconds
    if too_old or rnd.issued < sim.delta_not_before.get(tenant.id, 0):
        raise _sync_state_not_found()


def _path(kind: str) -> str:
    return "/users/delta" if kind == USER else "/groups/delta"


def _round_from(sim: Simulator, kind: str, token: str, *, skip: bool) -> tuple[Round, Position]:
    payload = decode_token(sim, token)
    if payload is None or payload.get("k") != kind:
        raise _sync_state_not_found()
    select = tuple(payload["s"]) if payload.get("s") else None
    ids = tuple(payload["f"]) if payload.get("f") else None
    if skip:
        rnd = Round(kind, int(payload["a"]), int(payload["u"]), select, ids, float(payload["t"]))
        return rnd, (int(payload["p"][0]), int(payload["p"][1]))
    # a deltaLink: the next round runs from where that one ended to now
    return Round(kind, int(payload["u"]), -1, select, ids, float(payload["t"])), (0, 0)


def delta_page(request: Request, tenant: Tenant, kind: str) -> Response:
    sim = sim_of(request)
    log = sim.directory.log(tenant)
    params = request.query_params
    skiptoken, deltatoken = params.get("$skiptoken"), params.get("$deltatoken")
    known = USER_PROPERTIES if kind == USER else frozenset({*GROUP_PROPERTIES, "members"})
    with sim.directory.lock:
        upto_now = log.seq
    if skiptoken:
        rnd, pos = _round_from(sim, kind, skiptoken, skip=True)
        _check_fresh(sim, tenant, request, rnd)
    elif deltatoken and deltatoken != "latest":
        previous, pos = _round_from(sim, kind, deltatoken, skip=False)
        _check_fresh(sim, tenant, request, previous)
        rnd = Round(kind, previous.after, upto_now, previous.select, previous.ids, sim.clock())
    else:
        select = parse_select(params.get("$select"), known, type_name="User" if kind == USER else "Group")
        rnd = Round(kind, -1, upto_now, select, _parse_filter(params.get("$filter")), sim.clock())
        pos = (0, 0)
        if deltatoken == "latest":  # only a deltaLink, no backlog (spec §8.5)
            return _respond(request, sim, rnd, [], None)
    minimal = "return=minimal" in request.headers.get("prefer", "").replace(" ", "").lower()
    page: list[bytes] = []
    next_pos: Position | None = None
    for item_pos, item in _items(sim, tenant, rnd, pos, minimal=minimal):
        if len(page) == sim.settings.delta_page_size:
            next_pos = item_pos
            break
        page.append(item)
    response = _respond(request, sim, rnd, page, next_pos)
    if minimal:
        response.headers["Preference-Applied"] = "return=minimal"
    return response


def _respond(request: Request, sim: Simulator, rnd: Round, page: list[bytes], next_pos: Position | None) -> Response:
    base = f"{graph_base(request)}{_path(rnd.kind)}"
    fragment = "users" if rnd.kind == USER else "groups"
    if rnd.select:
        fragment += f"({','.join(rnd.select)})"
    if next_pos is not None:
        next_link = f"{base}?$skiptoken={encode_token(sim, rnd.token(p=list(next_pos)))}"
        return collection(request, fragment, page, next_link=next_link)
    delta_link = f"{base}?$deltatoken={encode_token(sim, rnd.token(a=rnd.upto, t=sim.clock()))}"
    return collection(request, fragment, page, delta_link=delta_link)


def _items(
    sim: Simulator, tenant: Tenant, rnd: Round, start: Position, *, minimal: bool
) -> Iterator[tuple[Position, bytes]]:
    ids = _initial_ids(sim, tenant, rnd, start[0]) if rnd.after < 0 else _changed_ids(sim, tenant, rnd, start[0])
    for index, (object_id, touch) in ids:
        first_slice = start[1] if index == start[0] else 0
        for slice_index, item in _object_items(tenant, rnd, object_id, touch, first_slice, minimal=minimal):
            yield (index, slice_index), item


def _initial_ids(
    sim: Simulator, tenant: Tenant, rnd: Round, start: int
) -> Iterator[tuple[int, tuple[str, Touch | None]]]:
    log = sim.directory.log(tenant)
    source = list(rnd.ids) if rnd.ids is not None else log.order[rnd.kind]
    live = tenant.users if rnd.kind == USER else tenant.groups
    for index in range(start, len(source)):
        object_id = source[index]
        if object_id in live and log.exists_at(object_id, rnd.upto):
            yield index, (object_id, None)


def _changed_ids(
    sim: Simulator, tenant: Tenant, rnd: Round, start: int
) -> Iterator[tuple[int, tuple[str, Touch | None]]]:
    """Objects touched in ``(after, upto]`` in first-touch order, each with what happened to it."""
    log = sim.directory.log(tenant)
    touched: dict[str, Touch] = {}
    wanted = set(rnd.ids) if rnd.ids is not None else None
    for change in log.since(rnd.after, rnd.upto):
        if change.kind != rnd.kind or (wanted is not None and change.object_id not in wanted):
            continue
        if change.member_id is None:
            touch = touched.setdefault(change.object_id, Touch())
            touch.props.update(change.props)
            touch.created = touch.created or log.created_seq.get(change.object_id, -1) == change.seq
        elif rnd.tracks_members:  # without members selected, membership changes are not tracked
            touched.setdefault(change.object_id, Touch()).members[change.member_id] = change.op == "member_add"
    for index, (object_id, touch) in enumerate(touched.items()):
        if index >= start:
            yield index, (object_id, touch)


def _object_items(
    tenant: Tenant, rnd: Round, object_id: str, touch: Touch | None, first_slice: int, *, minimal: bool
) -> Iterator[tuple[int, bytes]]:
    """One item (users) or one per members@delta slice (groups); ``minimal`` shows only what changed (§8.5)."""
    names = rnd.names
    if minimal and touch is not None and not touch.created:
        names = ("id", *(n for n in rnd.names if n in touch.props))
    if rnd.kind == USER:
        user = tenant.users.get(object_id)
        if user is None:  # users are soft-deleted first: restorable, reason "changed" (§8.5)
            yield 0, dumps({"id": object_id, "@removed": {"reason": "changed"}})
        else:
            yield 0, dumps({n: user.props.get(n, [] if n in USER_LISTS else None) for n in names})
        return
    group = tenant.groups.get(object_id)
    if group is None:
        yield 0, dumps({"id": object_id, "@removed": {"reason": "deleted"}})
        return
    props = {n: group.props.get(n, [] if n in GROUP_LISTS else None) for n in names}
    if not rnd.tracks_members:
        yield 0, dumps(props)
        return
    if touch is None:  # initial round: every current member
        entries = [_member_entry(tenant, m, True) for m in list(group.members)]
    else:
        entries = [_member_entry(tenant, m, added) for m, added in touch.members.items()]
    slices = max(1, -(-len(entries) // MEMBERS_PER_ITEM))
    for slice_index in range(first_slice, slices):
        chunk = entries[slice_index * MEMBERS_PER_ITEM : (slice_index + 1) * MEMBERS_PER_ITEM]
        yield slice_index, dumps({**props, "members@delta": chunk})


def _member_entry(tenant: Tenant, member_id: str, added: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"@odata.type": GROUP_TYPE if member_id in tenant.groups else USER_TYPE, "id": member_id}
    if not added:
        entry["@removed"] = {"reason": "deleted"}
    return entry

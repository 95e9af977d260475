"""The ``$filter`` forms the simulator answers: ``<property> eq '<value>'`` (optionally joined by ``or``).

That covers what sync clients send (look a user up by UPN or mail, an app by appId). Anything else is Graph's
400 ``Request_UnsupportedQuery`` rather than a silently ignored filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from entra_simulator.errors import GraphError

_CLAUSE = re.compile(r"^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*$")


def parse_filter(raw: str | None, allowed: frozenset[str], resource: str) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate over an object's properties, or None when there is no ``$filter``."""
    if not raw:
        return None
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+or\s+", raw.strip()):
        match = _CLAUSE.match(part)
        if match is None or match.group(1) not in allowed:
            name = match.group(1) if match else part.strip()
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{name}' of resource "
                f"'{resource}'. The simulator supports {', '.join(sorted(allowed))} with 'eq'.",
            )
        clauses.append((match.group(1), match.group(2).replace("''", "'").lower()))

    def matches(props: dict[str, Any]) -> bool:
        return any(str(props.get(name) or "").lower() == value for name, value in clauses)

    return matches

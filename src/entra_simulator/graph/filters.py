"""The ``$filter`` subset the simulator answers on directory collections (spec §8.4; [G-AQ]).

Grammar (OData keywords and function names in any case)::

    expr    := and ('or' and)*
    and     := unary ('and' unary)*
    unary   := 'not' unary | primary
    primary := '(' expr ')' | prop ('eq' | 'ne') literal | prop 'in' '(' literal (',' literal)* ')'
             | ('startsWith' | 'endsWith') '(' prop ',' string ')'
    literal := 'string' | null | true | false | integer

``ne``, ``not`` and ``endsWith`` are advanced-query operators: Graph answers them only with
``ConsistencyLevel: eventual`` and ``$count=true`` (https://learn.microsoft.com/graph/aad-advanced-queries,
"Support for filter by properties of directory objects"); ``endsWith`` only on the properties that page lists
(``mail``, ``userPrincipalName`` here). Anything else is Graph's 400 ``Request_UnsupportedQuery`` rather than a
silently ignored filter. Hand-written (about 100 lines) because no OData parser is a declared dependency and the
simulator may only add what its brief allows; the grammar is the small subset above.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from entra_simulator.errors import GraphError

Props = dict[str, Any]
Predicate = Callable[[Props], bool]
ADVANCED_OPERATORS = ("ne", "not", "endsWith")
ADVANCED_QUERIES_URL = "https://aka.ms/graph-docs/advanced-queries"
MAX_DEPTH = 32  # nested parentheses / not: deeper is refused, not a RecursionError (a 500)

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|([(),])|(-?\d+)|([A-Za-z_$][\w$./]*))")


def unsupported_clause(name: str, resource: str) -> GraphError:
    message = f"Unsupported or invalid query filter clause specified for property '{name}' of resource '{resource}'."
    return GraphError(400, "Request_UnsupportedQuery", message)


def needs_advanced(operator: str) -> GraphError:
    """Graph's answer to an advanced-query operator without its parameters ([G-AQ], "Error handling")."""
    return GraphError(
        400,
        "Request_UnsupportedQuery",
        f"Operator '{operator}' is not supported because the required parameters might be missing. Try adding "
        f"$count=true query parameter and ConsistencyLevel:eventual header. Refer to {ADVANCED_QUERIES_URL} for "
        "more information",
    )


@dataclass(frozen=True)
class Filter:
    """A parsed ``$filter``: the predicate and the advanced-query operators it uses, in order of appearance."""

    predicate: Predicate
    advanced: tuple[str, ...]

    def __call__(self, props: Props) -> bool:
        return self.predicate(props)


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class _Parser:
    def __init__(self, raw: str, allowed: frozenset[str], resource: str, ends_with: frozenset[str]) -> None:
        self.tokens = list(self._lex(raw))
        self.pos = 0
        self.allowed, self.resource, self.ends_with = allowed, resource, ends_with
        self.advanced: list[str] = []
        self.depth = 0

    def _lex(self, raw: str) -> Iterator[tuple[str, str]]:
        pos, end = 0, len(raw.rstrip())
        while pos < end:
            match = _TOKEN.match(raw, pos)
            if match is None or match.end() == pos:
                raise self.invalid(raw[pos:].strip())
            group = match.lastindex or 0
            yield ("", "string", "punct", "number", "word")[group], match.group(group)
            pos = match.end()

    def invalid(self, near: str) -> GraphError:
        return GraphError(400, "BadRequest", f"Invalid filter clause: syntax error near '{near[:40]}'.")

    def peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens) or (expected and self.peek().lower() != expected):
            raise self.invalid(self.peek() or "end of filter")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def keyword(self, word: str) -> bool:
        if self.peek().lower() == word:
            self.pos += 1
            return True
        return False

    def nested(self, parse: Callable[[], Predicate]) -> Predicate:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: nested deeper than {MAX_DEPTH} levels.")
        inner = parse()
        self.depth -= 1
        return inner

    def expr(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda p: any(part(p) for part in parts)

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else lambda p: all(part(p) for part in parts)

    def unary(self) -> Predicate:
        if self.keyword("not"):
            self.advanced.append("not")
            inner = self.nested(self.unary)
            return lambda p: not inner(p)
        return self.primary()

    def primary(self) -> Predicate:
        if self.keyword("("):
            inner = self.nested(self.expr)
            self.take(")")
            return inner
        kind, word = self.take()
        if kind != "word":
            raise self.invalid(word)
        if word.lower() in ("startswith", "endswith"):
            return self.function(word.lower())
        name = self.prop(word)
        operator = self.take()[1].lower()
        if operator == "in":
            values = self.literals()
            return lambda p: _norm(p.get(name)) in values
        if operator not in ("eq", "ne"):
            raise unsupported_clause(name, self.resource)
        value = self.literal()
        if operator == "ne":
            self.advanced.append("ne")
            return lambda p: _norm(p.get(name)) != value
        return lambda p: _norm(p.get(name)) == value

    def function(self, function: str) -> Predicate:
        self.take("(")
        name = self.prop(self.take()[1])
        self.take(",")
        kind, raw = self.take()
        self.take(")")
        if kind != "string":
            raise self.invalid(raw)
        prefix = raw[1:-1].replace("''", "'").lower()
        if function == "endswith":
            if name not in self.ends_with:
                raise unsupported_clause(name, self.resource)
            self.advanced.append("endsWith")
            return lambda p: isinstance(v := p.get(name), str) and v.lower().endswith(prefix)
        return lambda p: isinstance(v := p.get(name), str) and v.lower().startswith(prefix)

    def prop(self, name: str) -> str:
        if name not in self.allowed:
            raise unsupported_clause(name, self.resource)
        return name

    def literals(self) -> frozenset[Any]:
        self.take("(")
        values = [self.literal()]
        while self.keyword(","):
            values.append(self.literal())
        self.take(")")
        return frozenset(values)

    def literal(self) -> Any:
        kind, raw = self.take()
        constants = {"null": None, "true": True, "false": False}
        if kind == "string":
            return raw[1:-1].replace("''", "'").lower()
        if kind == "number":
            return int(raw)
        if kind == "word" and raw.lower() in constants:
            return constants[raw.lower()]
        raise self.invalid(raw)


def parse_filter(
    raw: str | None, allowed: frozenset[str], resource: str, ends_with: frozenset[str] = frozenset()
) -> Filter | None:
    """The filter over an object's properties, or None when there is no ``$filter``."""
    if not raw or not raw.strip():
        return None
    parser = _Parser(raw, allowed, resource, ends_with)
    predicate = parser.expr()
    if parser.pos != len(parser.tokens):
        raise parser.invalid(parser.peek())
    return Filter(predicate, tuple(parser.advanced))

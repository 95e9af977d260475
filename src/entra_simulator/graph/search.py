"""``$search`` on directory collections (https://learn.microsoft.com/graph/search-query-parameter, "Using $search
on directory object collections"; spec §8.4 [G-AQ]).

Syntax: ``"property:text"`` clauses, each in double quotes (``\\"`` and ``\\\\`` escaped), joined by upper-case
``AND`` / ``OR`` outside the quotes, with parentheses for precedence; ``AND`` binds tighter than ``OR``.
Matching: on ``displayName`` and ``description`` the text and the value are cut into tokens (spaces, a change
from lower to upper case, letters/digits/symbols) and every token of the text must start a token of the value,
in any order and case; words joined only by symbols also count as one token (``hello-world`` has
``helloworld``). Any other property is a case-insensitive ``startsWith``. Hand-written: the grammar is a few
lines and no search-syntax parser is a declared dependency.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from entra_simulator.errors import GraphError
from entra_simulator.graph.filters import MAX_DEPTH, Predicate, unsupported_clause

TOKENIZED = frozenset({"displayName", "description"})
_LEX = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([()])|(AND|OR)(?=[\s("]|$))')
_PIECE = re.compile(r"\d+|[^\W\d_]+|[^\w\s]|_")


def needs_eventual() -> GraphError:
    """$search without ``ConsistencyLevel: eventual`` ([G-AQ], "Error handling for advanced queries")."""
    message = (
        "Request with $search query parameter only works through MSGraph with a special request header: "
        "'ConsistencyLevel: eventual'"
    )
    return GraphError(400, "Request_UnsupportedQuery", message)


def _syntax_error(raw: str) -> GraphError:
    # The wording is the simulator's (Graph's own for a malformed $search is not documented); the code is Graph's.
    message = f"Invalid $search '{raw[:80]}': write clauses as \"property:text\" in double quotes joined by AND / OR."
    return GraphError(400, "Request_UnsupportedQuery", message)


def tokens(text: str) -> set[str]:
    """The lower-cased search tokens of a value or of a search text."""
    found: set[str] = set()
    for chunk in text.split():
        pieces = _PIECE.findall(chunk)
        words = [w for p in pieces for w in _split_case(p)]
        found.update(w.lower() for w in words if w.isalnum())
        if any(not p.isalnum() for p in pieces):
            found.add("".join(p for p in pieces if p.isalnum()).lower())
    found.discard("")
    return found


def _split_case(piece: str) -> list[str]:
    """``HelloWorld`` → ``Hello``, ``World``; only a lower → upper change splits (``HELLOworld`` stays whole)."""
    cuts = [0] + [i for i in range(1, len(piece)) if piece[i - 1].islower() and piece[i].isupper()] + [len(piece)]
    return [piece[a:b] for a, b in pairwise(cuts)]


def _clause(text: str, allowed: frozenset[str], resource: str) -> Predicate:
    name, colon, value = text.replace('\\"', '"').replace("\\\\", "\\").partition(":")
    if not colon:
        raise _syntax_error(text)
    if name not in allowed:
        raise unsupported_clause(name, resource)
    if name in TOKENIZED:
        wanted = {t for t in tokens(value) if t}
        return lambda p: _tokens_match(wanted, p.get(name))
    prefix = value.lower()
    return lambda p: isinstance(v := p.get(name), str) and v.lower().startswith(prefix)


def _tokens_match(wanted: set[str], value: Any) -> bool:
    if not isinstance(value, str):
        return False
    have = tokens(value)
    return all(any(h.startswith(w) for h in have) for w in wanted)


def parse_search(raw: str | None, allowed: frozenset[str], resource: str) -> Predicate | None:
    """The predicate of a ``$search`` value, or None when there is none."""
    if not raw or not raw.strip():
        return None
    items: list[tuple[int, str]] = []
    pos, end = 0, len(raw.rstrip())
    while pos < end:
        match = _LEX.match(raw, pos)
        if match is None or match.end() == pos:
            raise _syntax_error(raw)
        items.append((match.lastindex or 0, match.group(match.lastindex or 0)))
        pos = match.end()
    return _Search(items, allowed, resource, raw).parse()


class _Search:
    def __init__(self, items: list[tuple[int, str]], allowed: frozenset[str], resource: str, raw: str) -> None:
        self.items, self.pos, self.allowed, self.resource, self.raw = items, 0, allowed, resource, raw
        self.depth = 0

    def parse(self) -> Predicate:
        predicate = self.either()
        if self.pos != len(self.items):
            raise _syntax_error(self.raw)
        return predicate

    def next_is(self, value: str) -> bool:
        if self.pos < len(self.items) and self.items[self.pos][1] == value and self.items[self.pos][0] != 1:
            self.pos += 1
            return True
        return False

    def either(self) -> Predicate:
        return self._join("OR", self.both, any)

    def both(self) -> Predicate:
        return self._join("AND", self.atom, all)

    def _join(self, word: str, part: Callable[[], Predicate], combine: Callable[[Any], bool]) -> Predicate:
        parts = [part()]
        while self.next_is(word):
            parts.append(part())
        return parts[0] if len(parts) == 1 else lambda p: combine(q(p) for q in parts)

    def atom(self) -> Predicate:
        if self.next_is("("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _syntax_error(self.raw)
            inner = self.either()
            self.depth -= 1
            if not self.next_is(")"):
                raise _syntax_error(self.raw)
            return inner
        if self.pos >= len(self.items) or self.items[self.pos][0] != 1:
            raise _syntax_error(self.raw)
        self.pos += 1
        return _clause(self.items[self.pos - 1][1], self.allowed, self.resource)

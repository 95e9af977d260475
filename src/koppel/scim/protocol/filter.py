"""RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths → a small AST.

Grammar (precedence ``not`` > ``and`` > ``or``; keywords and operators case-insensitive)::

    filter    = or
    or        = and *("or" and)
    and       = unary *("and" unary)
    unary     = "not" "(" filter ")" / "(" filter ")" / attr-expr
    attr-expr = path "pr" / path op value / path "[" filter "]" ["." sub [op value / "pr"]]
    value     = string / number / true / false / null / bare-token

Tolerated beyond the RFC, because Entra sends it: unquoted single-token values
(``externalId eq jyoung``), and ``emails[type eq "work"].value eq "x"`` (read as
``emails[type eq "work" and value eq "x"]``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from koppel.scim.errors import ScimError, invalid_filter, invalid_path

COMPARE_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
Value = str | int | float | bool | None


@dataclass(frozen=True)
class AttrPath:
    """``[urn:]attr[.sub]`` as written (names are resolved against a schema later)."""

    attr: str
    sub: str | None = None
    urn: str | None = None

    def render(self) -> str:
        text = f"{self.urn}:{self.attr}" if self.urn else self.attr
        return f"{text}.{self.sub}" if self.sub else text


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str  # one of COMPARE_OPS, lower case
    value: Value


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    inner: Filter


@dataclass(frozen=True)
class ValuePath:
    """``attr[filter]``: some element of multi-valued ``attr`` matches ``filter`` (relative names)."""

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH ``path``: ``attrPath`` or ``attrPath[valFilter][.subAttr]``."""

    path: AttrPath
    filter: Filter | None = None
    sub: str | None = None


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<lparen>\() | (?P<rparen>\)) | (?P<lbrack>\[) | (?P<rbrack>\])
    | (?P<word>[^\s()\[\]"]+)
    )""",
    re.VERBOSE,
)
_ATTR_NAME = re.compile(r"^[A-Za-z$][\w$-]*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def _tokenize(text: str, what: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            raise invalid_filter(f"the {what} {text!r} has an unterminated string or a stray character at {pos}")
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return tokens


def parse_attr_path(word: str) -> AttrPath:
    """``urn:...:User:manager.value`` → AttrPath(urn, 'manager', 'value'); ``name.givenName`` likewise."""
    urn = None
    rest = word
    if word[:4].lower() == "urn:":
        urn, sep, rest = word.rpartition(":")
        if not sep or not rest:
            raise invalid_path(f"{word!r} names a schema but no attribute; append ':attributeName'")
    attr, _, sub = rest.partition(".")
    if not _ATTR_NAME.match(attr) or (sub and not _ATTR_NAME.match(sub)):
        raise invalid_path(f"{word!r} is not an attribute path (expected attr, attr.subAttr or urn:...:attr)")
    return AttrPath(attr=attr, sub=sub or None, urn=urn)


def _value(kind: str, raw: str) -> Value:
    if kind == "string":
        try:
            decoded = json.loads(raw)
        except ValueError as exc:
            raise invalid_filter(f"the string {raw} is not valid (check its backslash escapes)") from exc
        assert isinstance(decoded, str)
        if "\x00" in decoded:  # no stored value holds one, and PostgreSQL refuses it in a query
            raise invalid_filter(f"the string {raw} contains a NUL character (\\u0000); remove it")
        return decoded
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if _NUMBER.match(raw):
        return float(raw) if any(c in raw for c in ".eE") else int(raw)
    return raw  # Entra's unquoted single-token values, e.g. externalId eq jyoung


class _Parser:
    def __init__(self, text: str, what: str) -> None:
        self.text, self.what = text, what
        self.tokens = _tokenize(text, what)
        self.pos = 0

    def fail(self, detail: str) -> ScimError:
        return invalid_filter(f"the {self.what} {self.text!r} is not valid: {detail}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.fail("it ends too early")
        self.pos += 1
        return tok

    def expect(self, kind: str, shown: str) -> None:
        tok = self.peek()
        if tok is None or tok[0] != kind:
            raise self.fail(f"expected {shown}" + (f" but found {tok[1]!r}" if tok else " at the end"))
        self.pos += 1

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Filter:
        if not self.tokens:
            raise self.fail("it is empty")
        result = self.or_()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return result

    def or_(self) -> Filter:
        left = self.and_()
        while self.keyword("or"):
            left = Or(left, self.and_())
        return left

    def and_(self) -> Filter:
        left = self.unary()
        while self.keyword("and"):
            left = And(left, self.unary())
        return left

    def unary(self) -> Filter:
        tok = self.peek()
        if tok is None:
            raise self.fail("it ends where an expression should start")
        if tok[0] == "word" and tok[1].lower() == "not":
            nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if nxt is not None and nxt[0] == "lparen":
                self.pos += 1
                return Not(self.group())
        if tok[0] == "lparen":
            return self.group()
        return self.attr_expr()

    def group(self) -> Filter:
        self.expect("lparen", "'('")
        inner = self.or_()
        self.expect("rparen", "')'")
        return inner

    def attr_path(self) -> AttrPath:
        kind, raw = self.take()
        if kind != "word":
            raise self.fail(f"expected an attribute name, found {raw!r}")
        try:
            return parse_attr_path(raw)
        except ScimError as exc:
            raise self.fail(exc.detail) from exc

    def attr_expr(self) -> Filter:
        path = self.attr_path()
        tok = self.peek()
        if tok is not None and tok[0] == "lbrack":
            if path.sub:
                raise self.fail(f"a value filter belongs on a multi-valued attribute, not on {path.render()!r}")
            self.pos += 1
            inner = self.or_()
            self.expect("rbrack", "']'")
            nxt = self.peek()
            if nxt is not None and nxt[0] == "word" and nxt[1].startswith("."):
                # Entra: emails[type eq "work"].value eq "x"
                self.pos += 1
                sub = parse_attr_path(nxt[1][1:])
                if sub.sub or sub.urn:
                    raise self.fail(f"{nxt[1]!r} must be one sub-attribute name")
                inner = And(inner, self.comparison(AttrPath(sub.attr)))
            return ValuePath(path, inner)
        return self.comparison(path)

    def comparison(self, path: AttrPath) -> Filter:
        kind, raw = self.take()
        op = raw.lower()
        if kind != "word" or (op != "pr" and op not in COMPARE_OPS):
            raise self.fail(f"{raw!r} is not an operator (use eq ne co sw ew gt ge lt le pr)")
        if op == "pr":
            return Present(path)
        kind, raw = self.take()
        if kind not in ("string", "word"):
            raise self.fail(f"expected a value after {op!r}, found {raw!r}")
        return Compare(path, op, _value(kind, raw))


def parse_filter(text: str) -> Filter:
    """Parse a ``filter`` query parameter; raises ScimError(invalidFilter) with a readable detail."""
    return _Parser(text, "filter").parse()


def parse_patch_path(text: str) -> PatchPath:
    """Parse a PATCH ``path``; raises ScimError(invalidPath)."""
    text = text.strip()
    if not text:
        raise invalid_path("the PATCH path is empty; leave 'path' out to patch the resource itself")
    bracket = text.find("[")
    try:
        if bracket < 0:
            return PatchPath(parse_attr_path(text))
        close = text.rfind("]")
        if close < bracket:
            raise invalid_path(f"the PATCH path {text!r} opens '[' without closing it")
        path = parse_attr_path(text[:bracket])
        inner = _Parser(text[bracket + 1 : close], "value filter").parse()
        tail = text[close + 1 :]
        sub = None
        if tail:
            if not tail.startswith(".") or not _ATTR_NAME.match(tail[1:]):
                raise invalid_path(f"after ']' the PATCH path {text!r} may only have '.subAttribute'")
            sub = tail[1:]
        return PatchPath(path, inner, sub)
    except ScimError as exc:
        raise invalid_path(f"the PATCH path {text!r} is not valid: {exc.detail}") from exc


def render_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def render(node: Filter) -> str:
    """The filter as text that ``parse_filter`` reads back to the same AST (fully parenthesised)."""
    if isinstance(node, Compare):
        return f"{node.path.render()} {node.op} {render_value(node.value)}"
    if isinstance(node, Present):
        return f"{node.path.render()} pr"
    if isinstance(node, And):
        return f"({render(node.left)} and {render(node.right)})"
    if isinstance(node, Or):
        return f"({render(node.left)} or {render(node.right)})"
    if isinstance(node, Not):
        return f"not ({render(node.inner)})"
    return f"{node.path.render()}[{render(node.filter)}]"

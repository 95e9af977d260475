"""SCIM filter AST → SQLAlchemy WHERE clause over the directory tables (SQLite and PostgreSQL).

Every filter runs in the database: hot attributes map to indexed columns (``userName`` and group
``displayName`` to their lower-cased key columns), everything else to JSON paths in the stored SCIM
document, and multi-valued attributes (``emails[type eq "work"].value``) to ``EXISTS`` over the JSON
array's elements. Case-insensitive attributes compare ``lower()`` on both sides, in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    String,
    and_,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import KeyedColumnElement

from koppel.directory.models import DirectoryGroup, DirectoryUser, Membership
from koppel.scim.errors import invalid_filter
from koppel.scim.protocol.filter import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from koppel.scim.protocol.schemas import AttrDef, ResourceDef

Model = type[DirectoryUser] | type[DirectoryGroup]
Expr = ColumnElement[Any]


@dataclass(frozen=True)
class _Column:
    """An attribute stored in a real column. ``folded``: the column already holds lower(value)."""

    get: Callable[[], Any]
    folded: bool = False


USER_COLUMNS: dict[str, _Column] = {
    "id": _Column(lambda: DirectoryUser.external_id),
    "username": _Column(lambda: DirectoryUser.user_name_key, folded=True),
    "displayname": _Column(lambda: DirectoryUser.display_name),
    "active": _Column(lambda: DirectoryUser.account_enabled),
    "title": _Column(lambda: DirectoryUser.job_title),
    "name.givenname": _Column(lambda: DirectoryUser.given_name),
    "name.familyname": _Column(lambda: DirectoryUser.family_name),
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department": _Column(lambda: DirectoryUser.department),
    "meta.created": _Column(lambda: DirectoryUser.created_at),
    "meta.lastmodified": _Column(lambda: DirectoryUser.updated_at),
}
GROUP_COLUMNS: dict[str, _Column] = {
    "id": _Column(lambda: DirectoryGroup.external_id),
    "displayname": _Column(lambda: DirectoryGroup.display_name_key, folded=True),
    "meta.created": _Column(lambda: DirectoryGroup.created_at),
    "meta.lastmodified": _Column(lambda: DirectoryGroup.updated_at),
}


def translate(node: Filter, rdef: ResourceDef, model: Model, dialect: str) -> Expr:
    return _Translator(rdef, model, dialect).node(node)


def _json_path(keys: tuple[str, ...]) -> str:
    return "$" + "".join('."' + k.replace('"', '\\"') + '"' for k in keys)


Leaf = Compare | Present | ValuePath  # what is left once and / or / not are taken apart


class _Combinators:
    """and / or / not, the same in every translator; ``leaf`` translates the rest (NOT of NULL is false)."""

    def node(self, node: Filter) -> Expr:
        if isinstance(node, And):
            return and_(self.node(node.left), self.node(node.right))
        if isinstance(node, Or):
            return or_(self.node(node.left), self.node(node.right))
        if isinstance(node, Not):
            return not_(func.coalesce(self.node(node.inner), false()))
        return self.leaf(node)

    def leaf(self, node: Leaf) -> Expr:
        raise NotImplementedError


class _Translator(_Combinators):
    def __init__(self, rdef: ResourceDef, model: Model, dialect: str) -> None:
        self.rdef, self.model, self.pg = rdef, model, dialect == "postgresql"
        self.columns = USER_COLUMNS if model is DirectoryUser else GROUP_COLUMNS

    def leaf(self, node: Leaf) -> Expr:
        if isinstance(node, ValuePath):
            attr, keys = self.resolve(node.path)
            if not attr.multi:
                raise invalid_filter(f"{node.path.render()}[...]: only multi-valued attributes take a value filter")
            return self.element_exists(attr, keys, node.filter)
        attr, keys = self.resolve(node.path)
        sub = None
        if node.path.sub:
            sub = attr.child(node.path.sub)
            if sub is None:
                raise invalid_filter(f"{attr.name} has no sub-attribute {node.path.sub!r}")
        if attr.multi:
            # emails.value eq "x", emails pr: some element matches
            inner: Filter
            if sub is None:
                inner = (
                    Present(AttrPath("value"))
                    if isinstance(node, Present)
                    else Compare(AttrPath("value"), node.op, node.value)
                )
                if attr.type != "complex":
                    return self.element_exists(attr, keys, None, scalar=node)
            else:
                path = AttrPath(sub.name)
                inner = Present(path) if isinstance(node, Present) else Compare(path, node.op, node.value)
            if self.model is DirectoryGroup and attr.name == "members":
                return self.members(inner)
            return self.element_exists(attr, keys, inner)
        target = sub or attr
        col = self.columns.get(self.column_key(node.path, attr, sub))
        if col is not None:
            return self.condition(node, target, col.get(), folded=col.folded)
        return self.condition(node, target, self.json_value(keys, attr, sub))

    def column_key(self, path: AttrPath, attr: AttrDef, sub: AttrDef | None) -> str:
        name = attr.name if sub is None else f"{attr.name}.{sub.name}"
        ext = path.urn if path.urn and path.urn.lower() != self.rdef.core.urn.lower() else None
        return (f"{ext}:{name}" if ext else name).lower()

    def resolve(self, path: AttrPath) -> tuple[AttrDef, tuple[str, ...]]:
        schema = self.rdef.schema(path.urn)
        if schema is None:
            raise invalid_filter(f"{path.urn!r} is not a schema of {self.rdef.name} here")
        attr = schema.attr(path.attr)
        if attr is None:
            raise invalid_filter(f"{self.rdef.name} has no attribute {path.attr!r}; check the spelling")
        keys = ("scim", attr.name) if schema is self.rdef.core else ("scim", schema.urn, attr.name)
        return attr, keys

    # -- values -----------------------------------------------------------------------------
    def json_value(self, keys: tuple[str, ...], attr: AttrDef, sub: AttrDef | None = None) -> Expr:
        target = sub or attr
        path = keys + ((sub.name,) if sub else ())
        elem = self.model.attributes[path]
        return self.typed(elem, target)

    def typed(self, elem: Any, attr: AttrDef) -> Expr:
        if attr.type == "boolean":
            result: Expr = elem.as_boolean()
        elif attr.type in ("integer", "decimal"):
            result = elem.as_float()
        else:
            result = elem.as_string()
        return result

    def condition(self, node: Compare | Present, attr: AttrDef, expr: Any, *, folded: bool = False) -> Expr:
        if attr.type == "complex":
            raise invalid_filter(f"{attr.name} is complex: filter on one of its sub-attributes, e.g. {attr.name}.value")
        if isinstance(node, Present):
            if attr.type == "string" or attr.type == "reference":
                return and_(expr.is_not(None), expr != "")
            return expr.is_not(None)  # type: ignore[no-any-return]
        value = self.literal(node, attr)
        if value is None:
            if node.op == "eq":
                return expr.is_(None)  # type: ignore[no-any-return]
            if node.op == "ne":
                return expr.is_not(None)  # type: ignore[no-any-return]
            raise invalid_filter(f"{node.op} null is not a comparison; use 'pr' or 'not (... pr)'")
        fold = isinstance(value, str) and not attr.case_exact and attr.type in ("string", "reference")
        if fold:
            lit: Any = func.lower(literal(value, String))
            if not folded:
                expr = func.lower(expr)
        else:
            lit = value
        op = node.op
        if op == "eq":
            return expr == lit  # type: ignore[no-any-return]
        if op == "ne":
            return or_(expr != lit, expr.is_(None))
        if op in ("co", "sw", "ew"):
            if not isinstance(value, str) or attr.type not in ("string", "reference"):
                raise invalid_filter(f"{op} compares text; {attr.name} is {attr.type}")
            pattern = _escape_like(value)
            pattern = f"%{pattern}%" if op == "co" else f"{pattern}%" if op == "sw" else f"%{pattern}"
            pat: Any = func.lower(literal(pattern, String)) if fold else literal(pattern, String)
            return expr.like(pat, escape="\\")  # type: ignore[no-any-return]
        if attr.type == "boolean":
            raise invalid_filter(f"{attr.name} is true or false: use eq or ne, not {op}")
        return {"gt": expr > lit, "ge": expr >= lit, "lt": expr < lit, "le": expr <= lit}[op]  # type: ignore[no-any-return]

    def literal(self, node: Compare, attr: AttrDef) -> Any:
        value = node.value
        if value is None:
            return None
        kind = attr.type
        if kind == "boolean":
            if not isinstance(value, bool):
                raise invalid_filter(f"{attr.name} is true or false; compare it with true or false, not {value!r}")
            return value
        if kind in ("integer", "decimal"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise invalid_filter(f"{attr.name} is a number; compare it with a number, not {value!r}")
            return value
        if kind == "dateTime":
            if not isinstance(value, str):
                raise invalid_filter(f"{attr.name} is a date-time; compare it with a quoted ISO 8601 timestamp")
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise invalid_filter(f"{value!r} is not an ISO 8601 date-time like 2026-01-31T12:00:00Z") from exc
            if parsed.tzinfo is None:
                raise invalid_filter(f"{value!r} needs a time zone, e.g. a trailing Z for UTC")
            if attr.mutability == "readOnly":  # meta.created / lastModified: real datetime columns
                return parsed
            return value
        if not isinstance(value, str):
            # Numbers and booleans against a text attribute: compare their text (Entra's unquoted ids).
            return json_text(value)
        return value

    # -- multi-valued -----------------------------------------------------------------------
    def element_exists(
        self, attr: AttrDef, keys: tuple[str, ...], inner: Filter | None, scalar: Compare | Present | None = None
    ) -> Expr:
        if self.model is DirectoryGroup and attr.name == "members":
            if inner is None:
                raise invalid_filter('filter members by value, e.g. members[value eq "<user id>"]')
            return self.members(inner)
        if self.pg:
            elements = (
                func.jsonb_array_elements(cast(self.model.attributes[keys], JSONB))
                .table_valued(column("value", JSONB))
                .alias("e")
            )
        else:
            elements = func.json_each(self.model.attributes, _json_path(keys)).table_valued("value").alias("e")
        value_col = elements.c.value
        if scalar is not None:
            expr = value_col.astext if self.pg else value_col
            cond = self.condition(scalar, AttrDef(attr.name, attr.type, case_exact=attr.case_exact), expr)
        else:
            assert inner is not None
            cond = _ElementTranslator(self, attr, value_col).node(inner)
        return exists(select(literal(1)).select_from(elements).where(cond))

    def members(self, inner: Filter) -> Expr:
        """Group members live in the membership table: members.value is the user's SCIM id."""
        member = DirectoryUser.__table__.alias("m")
        cond = _MemberTranslator(self, member.c.external_id).node(inner)
        return exists(
            select(literal(1))
            .select_from(Membership.__table__.join(member, member.c.id == Membership.user_id))
            .where(Membership.group_id == DirectoryGroup.id, cond)
        )


class _ElementTranslator(_Combinators):
    """A value filter inside ``attr[...]``: names are sub-attributes of one JSON array element."""

    def __init__(self, outer: _Translator, attr: AttrDef, value_col: Any) -> None:
        self.outer, self.attr, self.value_col = outer, attr, value_col

    def leaf(self, node: Leaf) -> Expr:
        if isinstance(node, ValuePath):
            raise invalid_filter("value filters cannot be nested")
        sub = self.attr.child(node.path.attr)
        if sub is None or node.path.sub or node.path.urn:
            raise invalid_filter(f"{self.attr.name} has no sub-attribute {node.path.render()!r}")
        return self.outer.condition(node, sub, self.extract(sub))

    def extract(self, sub: AttrDef) -> Any:
        if self.outer.pg:
            elem = self.value_col[sub.name]
            if sub.type == "boolean":
                return cast(elem.astext, Boolean)
            if sub.type in ("integer", "decimal"):
                return cast(elem.astext, Float)
            return elem.astext
        return func.json_extract(self.value_col, _json_path((sub.name,)))


class _MemberTranslator(_Combinators):
    def __init__(self, outer: _Translator, id_col: KeyedColumnElement[Any]) -> None:
        self.outer, self.id_col = outer, id_col

    def leaf(self, node: Leaf) -> Expr:
        if isinstance(node, ValuePath) or node.path.attr.lower() != "value":
            raise invalid_filter("group members can be filtered by value (the user id) only")
        return self.outer.condition(node, AttrDef("value", case_exact=True), self.id_col)


def json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

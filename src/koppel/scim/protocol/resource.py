"""Incoming SCIM resources → the canonical document koppel stores.

The canonical document has canonical attribute names (SCIM names are case-insensitive), core
attributes at the top, extension attributes under their schema URN, no ``id``/``meta``/``schemas``
(koppel computes those), booleans as booleans, and no empty values: ``null``, ``""`` and ``[]``
mean "no value" (RFC 7643 §2.5; Microsoft's validation clears attributes that way).
Group ``members`` are not part of it: they live in the membership table.
"""

from __future__ import annotations

from typing import Any

from koppel.scim.errors import invalid_syntax, invalid_value
from koppel.scim.protocol.schemas import AttrDef, ResourceDef, SchemaDef

_DROP = object()  # "no value": the attribute is left out


def coerce(attr: AttrDef, value: Any, where: str) -> Any:
    """``value`` as ``attr``'s type, or ``_DROP`` for an empty value. Raises invalidValue."""
    if value is None:
        return _DROP
    if attr.multi:
        items = value if isinstance(value, list) else [value]
        single = AttrDef(attr.name, attr.type, False, attr.case_exact, attr.mutability, attr.returned, False, attr.sub)
        out = [v for v in (coerce(single, item, where) for item in items) if v is not _DROP]
        return out or _DROP
    kind = attr.type
    if kind == "complex":
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]  # older Entra: manager as [{"$ref": ..., "value": id}]
        if not isinstance(value, dict):
            if "value" in attr.sub and isinstance(value, str | int | float | bool):
                # Entra: the enterprise manager as a bare id string; "" clears it.
                value = {"value": value}
            else:
                raise invalid_value(f"{where} must be an object with {', '.join(a.name for a in attr.sub.values())}")
        out_obj: dict[str, Any] = {}
        for key, sub_value in value.items():
            sub = attr.child(key)
            if sub is None:
                raise invalid_syntax(
                    f"{where} has no sub-attribute {key!r}; known: {', '.join(a.name for a in attr.sub.values())}"
                )
            if sub.mutability == "readOnly" and sub.name != "$ref":
                continue
            coerced = coerce(sub, sub_value, f"{where}.{sub.name}")
            if coerced is not _DROP:
                out_obj[sub.name] = coerced
        return out_obj or _DROP
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"  # Entra's Switch() mapping sends "True"/"False"
        raise invalid_value(f"{where} must be true or false, not {value!r}")
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise invalid_value(f"{where} must be a whole number, not {value!r}")
    if kind == "decimal":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise invalid_value(f"{where} must be a number, not {value!r}")
    if not isinstance(value, str):
        raise invalid_value(f"{where} must be a string, not {value!r}")
    return value if value != "" else _DROP  # stored verbatim: no trimming or case folding


def split_urn_key(rdef: ResourceDef, key: str) -> tuple[SchemaDef | None, str | None, str]:
    """A top-level key → (schema, urn, attribute name or '').

    ``urn:...:enterprise:2.0:User`` → (enterprise, urn, ''); ``urn:...:enterprise:2.0:User:department``
    → (enterprise, urn, 'department'); unknown URNs → (None, urn, attr); plain names → (core, None, name).
    """
    if key[:4].lower() != "urn:":
        return rdef.core, None, key
    ext = rdef.schema(key)
    if ext is not None:
        return ext, ext.urn, ""
    urn, _, attr = key.rpartition(":")
    ext = rdef.schema(urn)
    if ext is not None:
        return ext, ext.urn, attr
    return None, key, ""


def loose_attr(name: str) -> AttrDef:
    """An attribute of an extension this organization has not configured: kept as sent."""
    return AttrDef(name, type="any")


def _coerce_loose(value: Any) -> Any:
    if value is None or value == "" or value == []:
        return _DROP
    return value


def normalize(rdef: ResourceDef, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """Validate and canonicalise a POST/PUT body. Returns (document, group members or None)."""
    if not isinstance(body, dict):
        raise invalid_syntax(f"the request body must be a JSON object describing a {rdef.name}")
    doc: dict[str, Any] = {}
    members: list[dict[str, Any]] | None = None
    for key, value in body.items():
        low = key.lower()
        if low in ("schemas", "meta", "id"):
            continue  # computed by koppel; Entra sends read-only meta on create
        schema, urn, attr_name = split_urn_key(rdef, key)
        if schema is None:
            # An extension this organization has not configured (Entra does not list it in schemas).
            loose = _coerce_loose(value)
            if loose is not _DROP:
                doc[key] = loose
            continue
        if urn is not None and not attr_name:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise invalid_syntax(f"{key} must be an object of that extension's attributes")
            ext_doc: dict[str, Any] = {}
            for ext_key, ext_value in value.items():
                if ext_key.lower() == "schemas":
                    continue
                _set_attr(schema, ext_doc, ext_key, ext_value, f"{key}:{ext_key}", rdef)
            if ext_doc:
                doc[schema.urn] = ext_doc
            continue
        if urn is not None:
            _set_attr(schema, doc.setdefault(schema.urn, {}), attr_name, value, key, rdef)
            if not doc[schema.urn]:
                del doc[schema.urn]
            continue
        if rdef.name == "Group" and low == "members":
            coerced = coerce(rdef.core.attrs["members"], value, "members")
            members = [] if coerced is _DROP else coerced
            continue
        _set_attr(schema, doc, key, value, key, rdef)
    return doc, members


def _set_attr(schema: SchemaDef, target: dict[str, Any], key: str, value: Any, where: str, rdef: ResourceDef) -> None:
    attr = schema.attr(key)
    if attr is None:
        known = ", ".join(sorted(a.name for a in schema.attrs.values()))
        raise invalid_syntax(f"{rdef.name} has no attribute {where!r} in {schema.urn}; known attributes: {known}")
    if attr.mutability in ("readOnly", "writeOnly"):
        return  # read-only values from clients are ignored (RFC 7643 §7); koppel keeps no passwords
    coerced = coerce(attr, value, where)
    if coerced is not _DROP:
        target[attr.name] = coerced


def check_required(rdef: ResourceDef, doc: dict[str, Any]) -> None:
    for attr in rdef.core.attrs.values():
        if attr.required and attr.name not in doc:
            raise invalid_value(f"{attr.name} is required for a {rdef.name}; send a non-empty {attr.name}")


def _values_equal(a: Any, b: Any) -> bool:
    return bool(a == b)


def check_immutable(rdef: ResourceDef, old: dict[str, Any], new: dict[str, Any]) -> None:
    """An immutable attribute may be set once (at creation, or while it has no value), never changed."""
    from koppel.scim.errors import mutability

    schemas = [(rdef.core, old, new)] + [
        (ext, old.get(ext.urn) or {}, new.get(ext.urn) or {}) for ext in rdef.extensions.values()
    ]
    for schema, before, after in schemas:
        for attr in schema.attrs.values():
            if attr.mutability != "immutable" or attr.name not in before:
                continue
            if not _values_equal(before[attr.name], after.get(attr.name)):
                where = attr.name if schema is rdef.core else f"{schema.urn}:{attr.name}"
                raise mutability(
                    f"{where} is immutable: it was set to {before[attr.name]!r} when the {rdef.name} was created "
                    f"and cannot be changed to {after.get(attr.name)!r}. Remove it from the attribute mapping "
                    "(or map it to the original value) to stop this error."
                )

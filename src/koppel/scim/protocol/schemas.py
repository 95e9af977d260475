"""SCIM schemas as compact lookup tables, derived once from ``scim2-models``.

Attribute names are case-insensitive in SCIM (RFC 7643 §2.1), so every table is keyed by the
lower-cased name and keeps the canonical spelling in ``AttrDef.name``. A resource type is the core
schema plus its extensions; the per-organization custom extension is added with ``with_extension``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from scim2_models import EnterpriseUser, Group, User

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# Attribute types of RFC 7643 §2.3 that custom extension attributes may have (single-valued, simple).
SIMPLE_TYPES = ("string", "boolean", "integer", "decimal", "dateTime", "reference")
MUTABILITIES = ("readWrite", "immutable", "readOnly", "writeOnly")


@dataclass(frozen=True)
class AttrDef:
    name: str
    type: str = "string"
    multi: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    required: bool = False
    sub: dict[str, AttrDef] = field(default_factory=dict)

    def child(self, name: str) -> AttrDef | None:
        return self.sub.get(name.lower())


@dataclass(frozen=True)
class SchemaDef:
    urn: str
    attrs: dict[str, AttrDef]

    def attr(self, name: str) -> AttrDef | None:
        return self.attrs.get(name.lower())


@dataclass(frozen=True)
class ResourceDef:
    """A resource type: ``User`` or ``Group``, its core schema and its extensions (by lower URN)."""

    name: str
    endpoint: str
    core: SchemaDef
    extensions: dict[str, SchemaDef]

    def extension(self, urn: str) -> SchemaDef | None:
        return self.extensions.get(urn.lower())

    def schema(self, urn: str | None) -> SchemaDef | None:
        if urn is None or urn.lower() == self.core.urn.lower():
            return self.core
        return self.extension(urn)

    def with_extension(self, ext: SchemaDef) -> ResourceDef:
        return replace(self, extensions={**self.extensions, ext.urn.lower(): ext})


def _attr(raw: dict[str, Any]) -> AttrDef:
    subs = {s["name"].lower(): _attr(s) for s in raw.get("subAttributes", [])}
    return AttrDef(
        name=raw["name"],
        type=raw.get("type", "string"),
        multi=bool(raw.get("multiValued", False)),
        case_exact=bool(raw.get("caseExact", False)),
        mutability=raw.get("mutability", "readWrite"),
        returned=raw.get("returned", "default"),
        required=bool(raw.get("required", False)),
        sub=subs,
    )


_SCHEMA_DOCS: dict[str, dict[str, Any]] = {}


def schema_document(model: type[Any]) -> dict[str, Any]:
    """The RFC 7643 §7 schema representation from scim2-models (camelCase, no nulls), built once."""
    name = model.__name__
    if name not in _SCHEMA_DOCS:
        _SCHEMA_DOCS[name] = model.to_schema().model_dump(exclude_none=True, mode="json")
    return _SCHEMA_DOCS[name]


# Common attributes (RFC 7643 §3.1) that every resource has besides its schema's own.
_COMMON = {
    "id": AttrDef("id", case_exact=True, mutability="readOnly", returned="always"),
    "externalid": AttrDef("externalId", case_exact=True),
}


def _schema_def(model: type[Any], extra: dict[str, AttrDef] | None = None) -> SchemaDef:
    doc = schema_document(model)
    attrs = {a["name"].lower(): _attr(a) for a in doc["attributes"]}
    return SchemaDef(urn=doc["id"], attrs={**attrs, **(extra or {})})


def _meta() -> AttrDef:
    subs = {
        n.lower(): AttrDef(n, type=t, case_exact=True, mutability="readOnly")
        for n, t in (("resourceType", "string"), ("created", "dateTime"), ("lastModified", "dateTime"))
    }
    subs["location"] = AttrDef("location", type="reference", case_exact=True, mutability="readOnly")
    subs["version"] = AttrDef("version", case_exact=True, mutability="readOnly")
    return AttrDef("meta", type="complex", mutability="readOnly", sub=subs)


def _user_def() -> ResourceDef:
    core = _schema_def(User, {**_COMMON, "meta": _meta()})
    # userName is required and unique; scim2-models marks it so already. Manager is a reference.
    enterprise = _schema_def(EnterpriseUser)
    return ResourceDef("User", "/Users", core, {enterprise.urn.lower(): enterprise})


def _group_def() -> ResourceDef:
    core = _schema_def(Group, {**_COMMON, "meta": _meta()})
    display = core.attrs["displayname"]
    attrs = {**core.attrs, "displayname": replace(display, required=True)}
    return ResourceDef("Group", "/Groups", SchemaDef(core.urn, attrs), {})


USER: ResourceDef = _user_def()
GROUP: ResourceDef = _group_def()


def custom_extension(urn: str, attributes: list[dict[str, Any]]) -> SchemaDef:
    """A custom User extension (seed 002: ``...:8x8:1.1:User`` with ``site`` immutable).

    ``attributes``: ``[{"name": "site", "type": "string", "mutability": "immutable", "caseExact": false}]``.
    """
    attrs: dict[str, AttrDef] = {}
    for a in attributes:
        attrs[a["name"].lower()] = AttrDef(
            name=a["name"],
            type=a.get("type", "string"),
            case_exact=bool(a.get("caseExact", False)),
            mutability=a.get("mutability", "readWrite"),
            required=bool(a.get("required", False)),
        )
    return SchemaDef(urn=urn, attrs=attrs)


def custom_schema_document(ext: SchemaDef) -> dict[str, Any]:
    """RFC 7643 §7 representation of a custom extension."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ext.urn,
        "name": ext.urn.rsplit(":", 2)[-2] if ext.urn.count(":") >= 2 else ext.urn,
        "description": "Custom extension configured for this organization",
        "attributes": [
            {
                "name": a.name,
                "type": a.type,
                "multiValued": False,
                "required": a.required,
                "caseExact": a.case_exact,
                "mutability": a.mutability,
                "returned": "default",
                "uniqueness": "none",
            }
            for a in ext.attrs.values()
        ],
        "meta": {"resourceType": "Schema"},
    }

"""``/ServiceProviderConfig``, ``/ResourceTypes`` and ``/Schemas`` documents, built with scim2-models."""

from __future__ import annotations

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Patch,
    ResourceType,
    SchemaExtension,
    ServiceProviderConfig,
    Sort,
    User,
)

from koppel.scim.protocol.schemas import ResourceDef, SchemaDef, custom_schema_document, schema_document

MAX_RESULTS = 1000
MAX_PAYLOAD_BYTES = 1_048_576


def service_provider_config(base: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=MAX_PAYLOAD_BYTES),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Secret Token",
                description="Authorization: Bearer <the Secret Token from 'koppel scim token create'>",
                primary=True,
            )
        ],
    )
    doc: dict[str, Any] = config.model_dump(exclude_none=True, mode="json")
    doc["meta"] = {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"}
    return doc


def resource_types(base: str, user_def: ResourceDef) -> list[dict[str, Any]]:
    user = ResourceType.from_resource(User)
    user.schema_extensions = [SchemaExtension(schema_=ext.urn, required=False) for ext in user_def.extensions.values()]
    group = ResourceType.from_resource(Group)
    out = []
    for rt in (user, group):
        doc: dict[str, Any] = rt.model_dump(exclude_none=True, mode="json")
        doc["meta"] = {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{doc['id']}"}
        out.append(doc)
    return out


def schemas(base: str, user_def: ResourceDef) -> list[dict[str, Any]]:
    docs = [schema_document(User), schema_document(EnterpriseUser), schema_document(Group)]
    custom: list[SchemaDef] = [e for e in user_def.extensions.values() if e.urn != docs[1]["id"]]
    out = [dict(d) for d in docs] + [custom_schema_document(e) for e in custom]
    for doc in out:
        doc["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{doc['id']}"}
    return out

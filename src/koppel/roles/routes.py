"""``/api/v1/organizations/{org}/role-mappings`` (thin routes)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from koppel.api.deps import ApiKeyDep, NowDep, SessionDep
from koppel.organizations.routes import owned_organization
from koppel.roles import service

router = APIRouter(prefix="/api/v1/organizations/{org}/role-mappings", tags=["roles"])


class RoleMappingCreate(BaseModel):
    group_key: str = Field(max_length=256, description="The group's Entra object id, SCIM externalId, or name.")
    role: str = Field(max_length=100, description="The host app's role name.")


class RoleMappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    group_key: str
    group_name: str | None = Field(default=None, description="The group's name, where koppel has seen it.")
    role: str
    created_at: datetime


@router.get("", response_model=list[RoleMappingOut])
def list_mappings(org: str, session: SessionDep, key: ApiKeyDep) -> list[RoleMappingOut]:
    found = owned_organization(session, key, org)
    mappings = service.list_mappings(session=session, org_id=found.id)
    names = service.group_names(session=session, org_id=found.id, keys=[m.group_key for m in mappings])
    return [
        RoleMappingOut.model_validate(m).model_copy(update={"group_name": names.get(m.group_key)}) for m in mappings
    ]


@router.post("", status_code=201, response_model=RoleMappingOut)
def add_mapping(org: str, body: RoleMappingCreate, session: SessionDep, key: ApiKeyDep, now: NowDep) -> RoleMappingOut:
    found = owned_organization(session, key, org)
    mapping = service.add_mapping(session=session, org_id=found.id, group_key=body.group_key, role=body.role, now=now)
    return RoleMappingOut.model_validate(mapping)


@router.delete("/{mapping_id}", status_code=204)
def remove_mapping(org: str, mapping_id: str, session: SessionDep, key: ApiKeyDep, now: NowDep) -> Response:
    found = owned_organization(session, key, org)
    service.remove_mapping(session=session, org_id=found.id, mapping_id=mapping_id, now=now)
    return Response(status_code=204)

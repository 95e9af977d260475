"""Response bodies of the directory read API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="koppel's stable id (the `sub` of koppel's ID tokens).")
    org_id: str
    connection_id: str
    external_id: str = Field(description="The source's immutable id (Entra object id, SCIM externalId).")
    user_name: str
    email: str | None
    display_name: str | None
    given_name: str | None
    family_name: str | None
    job_title: str | None
    department: str | None
    mobile_phone: str | None
    business_phone: str | None
    user_type: str | None
    external_user_state: str | None
    account_enabled: bool
    status: str = Field(description="active or deactivated.")
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None


class UserDetail(UserOut):
    group_ids: list[str] = Field(default_factory=list)


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    connection_id: str
    external_id: str
    display_name: str
    description: str | None
    group_type: str | None
    sam_account_name: str | None
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    data: list[UserOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class GroupPage(BaseModel):
    data: list[GroupOut]
    next_cursor: str | None

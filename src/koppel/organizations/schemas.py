"""Request and response bodies of ``/api/v1/organizations`` and its connections (Pydantic v2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from koppel.organizations.models import Organization


class OrganizationBase(BaseModel):
    name: str | None = Field(default=None, max_length=200, description="What admins and users see.")
    privacy_statement_url: str | None = Field(default=None, max_length=2000)
    terms_of_use_url: str | None = Field(default=None, max_length=2000)
    terms_of_use_text: str | None = Field(default=None, max_length=100_000)
    default_role: str | None = Field(default=None, max_length=100, description="Role when no mapping matches.")
    deny_unmapped: bool | None = Field(default=None, description="Refuse sign-in when no mapping matches.")


class OrganizationCreate(OrganizationBase):
    slug: str = Field(max_length=63, description="Short name in URLs: lowercase letters, digits, hyphens.")
    name: str = Field(max_length=200)
    domains: list[str] = Field(default_factory=list, max_length=100, description="E-mail domains, e.g. contoso.com.")


class OrganizationUpdate(OrganizationBase):
    pass


class DomainCreate(BaseModel):
    domain: str = Field(max_length=253, description="An e-mail domain, e.g. contoso.com.")


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    name: str
    domains: list[str]
    privacy_statement_url: str | None
    terms_of_use_url: str | None
    terms_of_use_text: str | None
    terms_version: int
    default_role: str | None
    deny_unmapped: bool
    created_at: datetime
    updated_at: datetime

    @field_validator("domains", mode="before")
    @classmethod
    def _domain_names(cls, value: Any) -> Any:
        return [d if isinstance(d, str) else d.domain for d in value]

    @classmethod
    def of(cls, org: Organization) -> OrganizationOut:
        return cls.model_validate(org)


class ConnectionCreate(BaseModel):
    kind: Literal["entra", "oidc", "scim"]
    name: str = Field(max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict, description="Kind-specific, non-secret configuration.")
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Kind-specific secrets (e.g. client_secret); write-only, never returned."
    )


class ConnectionUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    settings: dict[str, Any] | None = Field(default=None, description="Merged into the current settings.")
    secrets: dict[str, str | None] | None = Field(
        default=None, description="Merged; a null value removes that secret. Write-only."
    )


class ConnectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    kind: str
    name: str
    status: str = Field(description="needs_consent, consent_revoked, healthy, failing, paused, awaiting_approval.")
    last_error: str | None = Field(description="What went wrong last, in plain words.")
    settings: dict[str, Any]
    secrets_set: list[str] = Field(default_factory=list, description="Names of the secrets that are set.")
    created_at: datetime
    updated_at: datetime

"""Request and response bodies of ``/api/v1/webhooks`` (Pydantic v2)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WebhookEndpointCreate(BaseModel):
    url: str = Field(max_length=2000, description="http(s) URL that receives the events.")
    org_id: str | None = Field(
        default=None, description="Organization id or slug; omitted: every organization (operator keys only)."
    )
    event_types: list[str] = Field(default_factory=list, description="e.g. user.created, user.*; empty: all.")
    description: str = Field(default="", max_length=200)


class WebhookEndpointUpdate(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = None
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(default=None, description="Disabled endpoints keep their place and catch up.")


class WebhookEndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str | None
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    last_event_id: int = Field(description="The last event this endpoint is done with (its cursor).")
    retry_event_id: int | None = Field(description="The event being retried, if any.")
    retry_attempt: int
    next_attempt_at: datetime | None
    last_delivered_at: datetime | None
    last_error: str | None
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="The signing secret. Shown once: store it now.")


class WebhookDeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: str
    event_id: int
    event_type: str
    attempt: int
    manual: bool
    outcome: str = Field(description="delivered | retrying | failed")
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: datetime
    next_attempt_at: datetime | None

"""JSON shapes of the Graph-sync API and CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from koppel.graph.models import GraphSyncRun
from koppel.graph.service import CheckResult, ConsentLink


class EntraConnectionCreate(BaseModel):
    tenant_id: str = Field(description="Tenant ID (GUID) or tenant domain, e.g. contoso.onmicrosoft.com.")
    group_ids: list[str] = Field(description="Object IDs of the security groups whose members become users.")
    admin_email: str | None = Field(default=None, description="Who receives the admin-consent e-mail.")
    transitive: bool = Field(default=False, description="Also take members of nested groups.")
    locale: str = Field(default="nl", description="Language of the consent e-mail: nl or en.")
    name: str | None = None


class ConsentLinkOut(BaseModel):
    consent_url: str
    expires_at: datetime
    emailed_to: str | None = None
    mail_error: str | None = None

    @classmethod
    def of(cls, link: ConsentLink) -> ConsentLinkOut:
        return cls(
            consent_url=link.url, expires_at=link.expires_at, emailed_to=link.emailed_to, mail_error=link.mail_error
        )


class CheckOut(BaseModel):
    status: str
    last_error: str | None
    groups: list[dict[str, Any]]
    sync_started: bool

    @classmethod
    def of(cls, result: CheckResult) -> CheckOut:
        return cls(
            status=result.status, last_error=result.last_error, groups=result.groups, sync_started=result.sync_due
        )


class SyncRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    connection_id: str
    mode: str = Field(description="full or delta.")
    outcome: str = Field(description="running, succeeded, failed, awaiting_approval, approved, rejected, abandoned.")
    started_at: datetime
    finished_at: datetime | None
    created: int
    updated: int
    deactivated: int
    graph_requests: int
    expected: int | None
    processed: int
    counts: dict[str, int]
    errors: list[str]
    would_deactivate: list[dict[str, Any]] | None = None
    decided_by: str | None

    @classmethod
    def of(cls, run: GraphSyncRun) -> SyncRunOut:
        out = cls.model_validate(run)
        out.would_deactivate = (run.pending or {}).get("would_deactivate")
        return out


def run_json(run: GraphSyncRun) -> dict[str, Any]:
    return SyncRunOut.of(run).model_dump(mode="json")

"""``GET /api/v1/events?after=CURSOR``: the event log, in order (thin route)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from koppel.api.deps import MAX_ROW_ID, ApiKeyDep, SessionDep, check_org_access
from koppel.events.models import Event
from koppel.events.sender import event_payload
from koppel.organizations.service import get_organization

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class EventOut(BaseModel):
    id: int = Field(description="The cursor: strictly increasing in commit order.")
    type: str
    org_id: str | None
    subject_id: str | None
    data: dict[str, Any]
    occurred_at: str


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: int = Field(description="Pass as `after` to read on; equals `after` when nothing new.")


@router.get("", response_model=EventPage)
def read_events(
    session: SessionDep,
    key: ApiKeyDep,
    after: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Return events after this cursor.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    org: Annotated[str | None, Query(max_length=63, description="Organization id or slug.")] = None,
    type: Annotated[str | None, Query(max_length=64, description="Exact type, or a prefix like user.*")] = None,
) -> EventPage:
    query = select(Event).where(Event.id > after)
    org_id = get_organization(session=session, ref=org).id if org else key.org_id
    if org_id is not None:
        check_org_access(key, org_id)
        query = query.where(Event.org_id == org_id)
    if type:
        query = query.where(
            Event.type.startswith(type[:-1], autoescape=True) if type.endswith(".*") else Event.type == type
        )
    events = list(session.scalars(query.order_by(Event.id).limit(limit)))
    return EventPage(
        data=[EventOut(**event_payload(e)) for e in events], next_cursor=events[-1].id if events else after
    )

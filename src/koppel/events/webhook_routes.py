"""``/api/v1/webhooks``: endpoints CRUD, their delivery log, manual redelivery (thin routes).

An organization-scoped API key sees and changes only its organization's endpoints; the
endpoints that receive every organization's events belong to operator keys.
"""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Path, Query, Response

from koppel.api.deps import MAX_ROW_ID, ApiKeyDep, NowDep, SecretBoxDep, SessionDep, SettingsDep, check_org_access
from koppel.apikeys.models import ApiKey
from koppel.errors import Forbidden
from koppel.events import delivery, webhooks
from koppel.events.models import WebhookEndpoint
from koppel.events.webhook_schemas import (
    WebhookDeliveryOut,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def _check(key: ApiKey, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    if key.org_id is not None and endpoint.org_id is None:
        raise Forbidden("this endpoint receives every organization's events; use an operator API key")
    if endpoint.org_id is not None:
        check_org_access(key, endpoint.org_id)
    return endpoint


def _owned(session: SessionDep, key: ApiKey, endpoint_id: str) -> WebhookEndpoint:
    return _check(key, webhooks.get_endpoint(session=session, endpoint_id=endpoint_id))


@router.post("", status_code=201, response_model=WebhookEndpointCreated)
def create(
    body: WebhookEndpointCreate, session: SessionDep, key: ApiKeyDep, box: SecretBoxDep, now: NowDep
) -> WebhookEndpointCreated:
    org = body.org_id or key.org_id
    if org is not None:
        org = webhooks.resolve_org(session=session, org=org)
        check_org_access(key, org)
    new = webhooks.create_endpoint(
        session=session,
        secret_box=box,
        url=body.url,
        org_id=org,
        event_types=body.event_types,
        description=body.description,
        now=now,
    )
    out = WebhookEndpointOut.model_validate(new.endpoint).model_dump()
    return WebhookEndpointCreated(**out, secret=new.secret)


@router.get("", response_model=list[WebhookEndpointOut])
def list_all(session: SessionDep, key: ApiKeyDep, org_id: str | None = None) -> list[WebhookEndpoint]:
    if key.org_id is not None:
        org_id = org_id or key.org_id
        check_org_access(key, org_id)
    return webhooks.list_endpoints(session=session, org_id=org_id)


@router.get("/{endpoint_id}", response_model=WebhookEndpointOut)
def read(endpoint_id: str, session: SessionDep, key: ApiKeyDep) -> WebhookEndpoint:
    return _owned(session, key, endpoint_id)


@router.patch("/{endpoint_id}", response_model=WebhookEndpointOut)
def update(
    endpoint_id: str, body: WebhookEndpointUpdate, session: SessionDep, key: ApiKeyDep, now: NowDep
) -> WebhookEndpoint:
    _owned(session, key, endpoint_id)
    return webhooks.update_endpoint(
        session=session, endpoint_id=endpoint_id, now=now, **body.model_dump(exclude_unset=True)
    )


@router.delete("/{endpoint_id}", status_code=204)
def remove(endpoint_id: str, session: SessionDep, key: ApiKeyDep) -> Response:
    _owned(session, key, endpoint_id)
    webhooks.delete_endpoint(session=session, endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=list[WebhookDeliveryOut])
def deliveries(
    endpoint_id: str,
    session: SessionDep,
    key: ApiKeyDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="A delivery id: older entries only.")] = None,
) -> list[object]:
    _owned(session, key, endpoint_id)
    return list(webhooks.list_deliveries(session=session, endpoint_id=endpoint_id, limit=limit, before=before))


@router.post("/deliveries/{delivery_id}/redeliver", response_model=WebhookDeliveryOut)
def redeliver(
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    session: SessionDep,
    key: ApiKeyDep,
    box: SecretBoxDep,
    settings: SettingsDep,
    now: NowDep,
) -> object:
    previous = webhooks.get_delivery(session=session, delivery_id=delivery_id)
    _owned(session, key, previous.endpoint_id)
    with httpx.Client(timeout=settings.webhook_timeout_seconds) as http:
        return delivery.redeliver(session=session, secret_box=box, http=http, delivery_id=delivery_id, now=now)

"""``koppel webhook ...``: endpoints that receive the event log, their deliveries, redelivery."""

from __future__ import annotations

from typing import Any

import httpx
import typer

from koppel.clikit import JsonOption, emit, readable_errors, runtime
from koppel.events import delivery, webhooks
from koppel.events.webhook_schemas import WebhookDeliveryOut, WebhookEndpointOut

webhook_app = typer.Typer(help="Webhook endpoints that receive events.", no_args_is_help=True)
LIST_COLUMNS = ("id", "org_id", "url", "event_types", "enabled", "last_event_id", "last_error")
DELIVERY_COLUMNS = (
    "id",
    "event_id",
    "event_type",
    "attempt",
    "outcome",
    "status_code",
    "error",
    "attempted_at",
)


def _endpoint(endpoint: Any) -> dict[str, Any]:
    return WebhookEndpointOut.model_validate(endpoint).model_dump(mode="json")


def _delivery(row: Any) -> dict[str, Any]:
    return WebhookDeliveryOut.model_validate(row).model_dump(mode="json")


@webhook_app.command("add")
@readable_errors
def add(
    url: str = typer.Argument(..., help="http(s) URL that receives the events."),
    org: str = typer.Option("", "--org", help="Organization id or slug (default: every organization)."),
    types: str = typer.Option("", "--types", help="Comma-separated event types, e.g. user.*,group.created."),
    description: str = typer.Option("", help="A note for admins."),
    as_json: bool = JsonOption,
) -> None:
    """Add an endpoint; prints its id and signing secret (shown only this once)."""
    rt = runtime()
    with rt.transaction() as session:
        new = webhooks.create_endpoint(
            session=session,
            secret_box=rt.secret_box,
            url=url,
            org_id=org or None,
            event_types=types.split(","),
            description=description,
            now=rt.now(),
        )
        out = {**_endpoint(new.endpoint), "secret": new.secret}
    emit(out, as_json=as_json)


@webhook_app.command("list")
@readable_errors
def list_(
    org: str = typer.Option("", "--org", help="Only this organization's endpoints (id or slug)."),
    as_json: bool = JsonOption,
) -> None:
    """List endpoints with their cursor and last error."""
    with runtime().transaction() as session:
        org_id = webhooks.resolve_org(session=session, org=org) if org else None
        rows = [_endpoint(e) for e in webhooks.list_endpoints(session=session, org_id=org_id)]
    emit(rows, as_json=as_json, columns=LIST_COLUMNS, title="Webhook endpoints")


@webhook_app.command("deliveries")
@readable_errors
def deliveries(
    endpoint_id: str = typer.Argument(..., help="Endpoint id (koppel webhook list)."),
    limit: int = typer.Option(50, min=1, max=500, help="How many, newest first."),
    as_json: bool = JsonOption,
) -> None:
    """The endpoint's delivery log: every attempt, its outcome and error, newest first."""
    with runtime().transaction() as session:
        rows = [_delivery(d) for d in webhooks.list_deliveries(session=session, endpoint_id=endpoint_id, limit=limit)]
    emit(rows, as_json=as_json, columns=DELIVERY_COLUMNS, title="Deliveries")


@webhook_app.command("redeliver")
@readable_errors
def redeliver(
    delivery_id: int = typer.Argument(..., help="Delivery id (koppel webhook deliveries ENDPOINT_ID)."),
    as_json: bool = JsonOption,
) -> None:
    """Send that delivery's event again now, once (logged as a manual attempt)."""
    rt = runtime()
    with rt.transaction() as session, httpx.Client(timeout=rt.settings.webhook_timeout_seconds) as http:
        row = delivery.redeliver(
            session=session, secret_box=rt.secret_box, http=http, delivery_id=delivery_id, now=rt.now()
        )
        out = _delivery(row)
    emit(out, as_json=as_json)
    if out["outcome"] != "delivered":
        raise typer.Exit(1)


@webhook_app.command("remove")
@readable_errors
def remove(
    endpoint_id: str = typer.Argument(..., help="Endpoint id (koppel webhook list)."),
    as_json: bool = JsonOption,
) -> None:
    """Remove an endpoint and its delivery log."""
    with runtime().transaction() as session:
        webhooks.delete_endpoint(session=session, endpoint_id=endpoint_id)
    emit({"removed": endpoint_id}, as_json=as_json)

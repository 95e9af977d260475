"""``koppel scim ...``: Secret Tokens for Entra's provisioning tab, the provisioning log, the custom extension."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from koppel.clikit import JsonOption, emit, readable_errors, runtime
from koppel.errors import InvalidInput
from koppel.organizations.service import get_organization
from koppel.scim import service

scim_app = typer.Typer(help="SCIM provisioning from Entra ID (Tenant URL + Secret Token).", no_args_is_help=True)
token_app = typer.Typer(help="Secret Tokens for the Tenant URL.", no_args_is_help=True)
scim_app.add_typer(token_app, name="token")
TOKEN_COLUMNS = ("id", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at", "active")
LOG_COLUMNS = ("id", "at", "operation", "resource_id", "status", "scim_type", "detail")
_DURATION = re.compile(r"^(\d+)([dhm]?)$")


def parse_duration(text: str) -> timedelta:
    """``365d``, ``12h``, ``30m``; a bare number is days."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"{text!r} is not a duration; use e.g. 365d, 12h or 30m", field="expires_in")
    n, unit = int(m.group(1)), m.group(2) or "d"
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


@token_app.command("create")
@readable_errors
def create(
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    expires_in: str = typer.Option("", "--expires-in", help="e.g. 365d, 12h (default: never)."),
    as_json: bool = JsonOption,
) -> None:
    """Create a Secret Token; prints the Tenant URL and the token (shown only this once)."""
    rt = runtime()
    with rt.transaction() as session:
        new = service.create_token(
            session=session, org=org, expires_in=parse_duration(expires_in) if expires_in else None, now=rt.now()
        )
        url = service.tenant_url(rt.settings.base_url, get_organization(session=session, ref=org))
        out = {"tenant_url": url, "token": new.secret, "id": new.token.id, "expires_at": new.token.expires_at}
    emit(out, as_json=as_json)


@token_app.command("list")
@readable_errors
def list_(org: str = typer.Option(..., "--org", help="Organization id or slug."), as_json: bool = JsonOption) -> None:
    """List the organization's tokens (never the tokens themselves)."""
    rt = runtime()
    with rt.transaction() as session:
        rows = [service.token_out(t, rt.now()) for t in service.list_tokens(session=session, org=org)]
    emit(rows, as_json=as_json, columns=TOKEN_COLUMNS, title="SCIM tokens")


@token_app.command("rotate")
@readable_errors
def rotate(
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    token_id: str = typer.Option("", "--token", help="Token id to replace (default: every active token)."),
    grace: str = typer.Option("7d", "--grace", help="How long the old token keeps working, e.g. 7d."),
    as_json: bool = JsonOption,
) -> None:
    """Create a new token; the old one keeps working for --grace so provisioning never fails in between."""
    rt = runtime()
    with rt.transaction() as session:
        new, olds = service.rotate_token(
            session=session, org=org, token_id=token_id or None, grace=parse_duration(grace), now=rt.now()
        )
        url = service.tenant_url(rt.settings.base_url, get_organization(session=session, ref=org))
        out = {
            "tenant_url": url,
            "token": new.secret,
            "id": new.token.id,
            "previous": [{"id": t.id, "expires_at": t.expires_at} for t in olds],
        }
    emit(out, as_json=as_json)


@token_app.command("revoke")
@readable_errors
def revoke(
    token_id: str = typer.Argument(..., help="Token id (koppel scim token list)."),
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    as_json: bool = JsonOption,
) -> None:
    """Revoke a token: Entra's requests with it get 401 from now on."""
    rt = runtime()
    with rt.transaction() as session:
        out = service.token_out(
            service.revoke_token(session=session, org=org, token_id=token_id, now=rt.now()), rt.now()
        )
    emit(out, as_json=as_json)


@scim_app.command("log")
@readable_errors
def log(
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    limit: int = typer.Option(50, "--limit", help="How many entries, newest first."),
    errors_only: bool = typer.Option(False, "--errors", help="Only failed requests."),
    as_json: bool = JsonOption,
) -> None:
    """The provisioning log: every SCIM request, its outcome and the plain error."""
    with runtime().transaction() as session:
        rows = [
            service.log_out(e) for e in service.read_log(session=session, org=org, limit=limit, errors_only=errors_only)
        ]
    emit(rows, as_json=as_json, columns=LOG_COLUMNS, title="SCIM provisioning log")


@scim_app.command("extension")
@readable_errors
def extension(
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    urn: str = typer.Option(..., "--urn", help="Extension URN ('' removes it)."),
    attribute: list[str] = typer.Option(
        [], "--attribute", help="name[:type][:immutable], e.g. site:string:immutable (repeat)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Configure the organization's custom User extension (seed 002: 8x8's 'site', immutable)."""
    attrs = []
    for spec in attribute:
        parts = spec.split(":")
        kind = next((p for p in parts[1:] if p not in ("immutable", "readWrite")), "string")
        attrs.append(
            {"name": parts[0], "type": kind, "mutability": "immutable" if "immutable" in parts else "readWrite"}
        )
    rt = runtime()
    with rt.transaction() as session:
        config = service.set_config(
            session=session, org=org, now=rt.now(), extension_urn=urn, extension_attributes=attrs
        )
        out = {"extension_urn": config.extension_urn, "extension_attributes": config.extension_attributes}
    emit(out, as_json=as_json)

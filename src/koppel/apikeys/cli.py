"""``koppel apikey ...``: management API keys."""

from __future__ import annotations

from typing import Any

import typer

from koppel.apikeys import service
from koppel.apikeys.models import ApiKey
from koppel.clikit import JsonOption, emit, readable_errors, runtime

apikey_app = typer.Typer(help="API keys for the management API.", no_args_is_help=True)
COLUMNS = ("id", "name", "prefix", "org_id", "created_at", "last_used_at", "revoked_at")


def _out(api_key: ApiKey) -> dict[str, Any]:
    return {c: getattr(api_key, c) for c in COLUMNS}


@apikey_app.command("create")
@readable_errors
def create(
    name: str = typer.Option(..., "--name", help="What the key is for, e.g. 'host app'."),
    org: str = typer.Option("", "--org", help="Limit the key to this organization (id or slug)."),
    as_json: bool = JsonOption,
) -> None:
    """Create a key; prints it once (koppel stores only its hash)."""
    rt = runtime()
    with rt.transaction() as session:
        new = service.create_api_key(session=session, name=name, org=org or None, now=rt.now())
        out = {**_out(new.api_key), "key": new.secret}
    emit(out, as_json=as_json)


@apikey_app.command("list")
@readable_errors
def list_(as_json: bool = JsonOption) -> None:
    """List keys (never the keys themselves)."""
    with runtime().transaction() as session:
        rows = [_out(k) for k in service.list_api_keys(session=session)]
    emit(rows, as_json=as_json, columns=COLUMNS, title="API keys")


@apikey_app.command("revoke")
@readable_errors
def revoke(key_id: str = typer.Argument(..., help="Key id (koppel apikey list)."), as_json: bool = JsonOption) -> None:
    """Revoke a key: requests with it are refused from now on."""
    rt = runtime()
    with rt.transaction() as session:
        out = _out(service.revoke_api_key(session=session, key_id=key_id, now=rt.now()))
    emit(out, as_json=as_json)

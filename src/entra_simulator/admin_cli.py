"""``simulator admin --url URL ...``: change a running simulator as a tenant admin would (issue 3 §4).

Each command calls one admin API endpoint and prints its JSON answer (``--json``) or a short line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import typer
from rich.console import Console

from entra_simulator.admin_client import AdminClient, AdminError

console = Console()
err_console = Console(stderr=True)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
TenantOption = typer.Option(None, "--tenant", help="Tenant id or domain (default: the only tenant).")
client_options = SimpleNamespace(
    ca_bundle=typer.Option(None, "--ca-bundle", help="CA bundle of a --tls simulator (default: $SSL_CERT_FILE).")
)

admin_app = typer.Typer(help="Change a running simulator: users, members, groups, apps, consent, keys, faults.")
user_app = typer.Typer(help="Users.", no_args_is_help=True)
member_app = typer.Typer(help="Group memberships.", no_args_is_help=True)
group_app = typer.Typer(help="Groups.", no_args_is_help=True)
app_app = typer.Typer(help="App registrations.", no_args_is_help=True)
consent_app = typer.Typer(help="Admin consent, as in the Entra portal.", no_args_is_help=True)
keys_app = typer.Typer(help="Token-signing keys.", no_args_is_help=True)
secret_app = typer.Typer(help="Client secrets.", no_args_is_help=True)
fault_app = typer.Typer(help="Fault injection.", no_args_is_help=True)
for name, sub in (
    ("user", user_app),
    ("member", member_app),
    ("group", group_app),
    ("app", app_app),
    ("consent", consent_app),
    ("keys", keys_app),
    ("secret", secret_app),
    ("fault", fault_app),
):
    admin_app.add_typer(sub, name=name)


@admin_app.callback(no_args_is_help=True)
def admin_main(
    ctx: typer.Context,
    url: str = typer.Option(..., "--url", envvar="ENTRA_SIMULATOR_URL", help="The running simulator's URL."),
    ca_bundle: Path | None = client_options.ca_bundle,
) -> None:
    ctx.obj = AdminClient(url, ca_bundle)


def _run(ctx: typer.Context, as_json: bool, call: Callable[[AdminClient], Any], summary: Callable[[Any], str]) -> None:
    try:
        result = call(ctx.obj)
    except AdminError as exc:
        if as_json:
            print(json.dumps({"error": str(exc)}), file=sys.stderr)
        else:
            err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(result))
    else:
        console.print(summary(result))


def _q(value: str) -> str:
    return quote(value, safe="")


def _props(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (``true``, ``42``, ``["a"]``) is used as such."""
    props: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--set")
        try:
            props[key] = json.loads(raw)
        except ValueError:
            props[key] = raw
    return props


# --- users -----------------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    ctx: typer.Context,
    upn: str = typer.Argument(..., help="userPrincipalName (for --guest: the guest's own mail address)."),
    given_name: str | None = typer.Option(None, "--given-name"),
    surname: str | None = typer.Option(None, "--surname"),
    display_name: str | None = typer.Option(None, "--display-name"),
    password: str | None = typer.Option(None, "--password", help="Password for the login page."),
    guest: bool = typer.Option(False, "--guest", help="A B2B guest (UPN becomes the #EXT# form)."),
    set_: list[str] = typer.Option([], "--set", help="Any Graph property as key=value (repeatable)."),
    tenant: str | None = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    spec: dict[str, Any] = {"mail": upn, **({"userType": "Guest"} if guest else {"userPrincipalName": upn})}
    extra = {"givenName": given_name, "surname": surname, "displayName": display_name, "password": password}
    spec.update({k: v for k, v in extra.items() if v is not None})
    spec.update(_props(set_))
    _run(
        ctx,
        as_json,
        lambda c: c.post(f"/tenants/{_q(c.tenant(tenant))}/users", spec),
        lambda r: f"added {r['userPrincipalName']} ({r['id']})",
    )


@user_app.command("update")
def user_update(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="Object id or userPrincipalName."),
    set_: list[str] = typer.Option([], "--set", help="Graph property as key=value (repeatable)."),
    tenant: str | None = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    changes = _props(set_)
    if not changes:
        raise typer.BadParameter("give at least one --set key=value", param_hint="--set")
    _run(
        ctx,
        as_json,
        lambda c: c.patch(f"/tenants/{_q(c.tenant(tenant))}/users/{_q(user)}", changes),
        lambda r: f"updated {r['userPrincipalName']}",
    )


@user_app.command("disable")
def user_disable(
    ctx: typer.Context, user: str = typer.Argument(...), tenant: str | None = TenantOption, as_json: bool = JsonOption
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.post(f"/tenants/{_q(c.tenant(tenant))}/users/{_q(user)}/disable"),
        lambda r: f"disabled {r['userPrincipalName']}",
    )


@user_app.command("delete")
def user_delete(
    ctx: typer.Context, user: str = typer.Argument(...), tenant: str | None = TenantOption, as_json: bool = JsonOption
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.delete(f"/tenants/{_q(c.tenant(tenant))}/users/{_q(user)}"),
        lambda r: f"deleted {r['userPrincipalName']}",
    )


# --- members and groups ----------------------------------------------------------------------------------
@member_app.command("add")
def member_add(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="Group object id or display name."),
    member: str = typer.Argument(..., help="User (id or UPN) or group (id or name)."),
    tenant: str | None = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.post(f"/tenants/{_q(c.tenant(tenant))}/groups/{_q(group)}/members", {"member": member}),
        lambda r: f"{'added' if r['changed'] else 'already a member:'} {r['member']} ({r['memberCount']} members)",
    )


@member_app.command("remove")
def member_remove(
    ctx: typer.Context,
    group: str = typer.Argument(...),
    member: str = typer.Argument(...),
    tenant: str | None = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.delete(f"/tenants/{_q(c.tenant(tenant))}/groups/{_q(group)}/members/{_q(member)}"),
        lambda r: f"{'removed' if r['changed'] else 'not a member:'} {r['member']} ({r['memberCount']} members)",
    )


@group_app.command("delete")
def group_delete(
    ctx: typer.Context, group: str = typer.Argument(...), tenant: str | None = TenantOption, as_json: bool = JsonOption
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.delete(f"/tenants/{_q(c.tenant(tenant))}/groups/{_q(group)}"),
        lambda r: f"deleted group {r['displayName']} ({r['deleted']})",
    )


# --- apps, consent, keys, secrets ------------------------------------------------------------------------
@app_app.command("add-redirect-uri")
def app_add_redirect_uri(
    ctx: typer.Context, app_id: str = typer.Argument(...), uri: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.post(f"/apps/{_q(app_id)}/redirect-uris", {"uri": uri}),
        lambda r: "redirect URIs: " + ", ".join(r["redirectUris"]),
    )


@consent_app.command("grant")
def consent_grant(
    ctx: typer.Context, app_id: str = typer.Argument(...), tenant: str | None = TenantOption, as_json: bool = JsonOption
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.post(f"/tenants/{_q(c.tenant(tenant))}/consent/{_q(app_id)}"),
        lambda r: f"admin consent granted to {r['appId']} (roles: {', '.join(r['appRoles']) or 'none'})",
    )


@consent_app.command("revoke")
def consent_revoke(
    ctx: typer.Context, app_id: str = typer.Argument(...), tenant: str | None = TenantOption, as_json: bool = JsonOption
) -> None:
    _run(
        ctx,
        as_json,
        lambda c: c.delete(f"/tenants/{_q(c.tenant(tenant))}/consent/{_q(app_id)}"),
        lambda r: f"consent revoked for {r['appId']}",
    )


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    _run(ctx, as_json, lambda c: c.post("/keys/rotate"), lambda r: f"signing key now {r['signing_kid']}")


@secret_app.command("expire")
def secret_expire(
    ctx: typer.Context,
    app_id: str = typer.Argument(...),
    key_id: str | None = typer.Option(None, "--key-id", help="Only this secret (default: all of the app's)."),
    as_json: bool = JsonOption,
) -> None:
    body = {"keyId": key_id} if key_id else None
    _run(
        ctx,
        as_json,
        lambda c: c.post(f"/apps/{_q(app_id)}/secrets/expire", body),
        lambda r: f"expired {len(r['expired'])} secret(s) of {r['appId']}",
    )


# --- faults ----------------------------------------------------------------------------------------------
@fault_app.command("set")
def fault_set(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help="throttle, error, latency, drop or truncate."),
    tenant: str = typer.Option("*", "--tenant", help="Tenant id or domain, or * for all."),
    endpoint: str = typer.Option(
        "*", "--endpoint", help="graph, token, authorize, members, delta, ... or a path glob."
    ),
    status: int = typer.Option(0, "--status", help="HTTP status (default 429 throttle, 503 error)."),
    retry_after: int = typer.Option(1, "--retry-after", help="Retry-After seconds for 429/503."),
    latency_ms: int = typer.Option(0, "--latency-ms"),
    rate: float = typer.Option(1.0, "--rate", help="Share of matching requests hit (0..1), deterministic by --seed."),
    count: int | None = typer.Option(None, "--count", help="Stop after this many hits."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = JsonOption,
) -> None:
    rule = {
        "kind": kind,
        "tenant": tenant,
        "endpoint": endpoint,
        "status": status,
        "retry_after": retry_after,
        "latency_ms": latency_ms,
        "rate": rate,
        "count": count,
        "seed": seed,
    }
    _run(ctx, as_json, lambda c: c.post("/faults", rule), lambda r: f"fault {r['id']}: {r['kind']} on {r['endpoint']}")


@fault_app.command("clear")
def fault_clear(
    ctx: typer.Context,
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's rules (default: all)."),
    as_json: bool = JsonOption,
) -> None:
    params = {"tenant": tenant} if tenant else None
    _run(ctx, as_json, lambda c: c.delete("/faults", params), lambda r: f"cleared {r['cleared']} fault rule(s)")

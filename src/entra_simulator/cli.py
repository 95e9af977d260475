"""``koppel simulator`` (also ``python -m entra_simulator``): serve, generate, rotate-keys and admin (issue 3 §1, §4).

The simulator imports nothing from koppel, so this module has its own small output helpers: ``--json`` prints
JSON, otherwise rich prints something a person reads. Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from entra_simulator.admin_cli import admin_app, client_options
from entra_simulator.admin_client import AdminClient, AdminError
from entra_simulator.generate import Options, generate, to_yaml

app = typer.Typer(
    help="A local Microsoft Entra ID tenant and Microsoft Graph for tests and demos.", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")
console = Console()
err_console = Console(stderr=True)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def fail(message: str, as_json: bool) -> typer.Exit:
    if as_json:
        print(json.dumps({"error": message}), file=sys.stderr)
    else:
        err_console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(1)


@app.command("serve")
def serve(
    seed: Path = typer.Option(..., "--seed", help="Seed file (YAML or JSON); see docs/simulator.md."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8443, help="TCP port; 0 picks a free one (the real one is printed)."),
    tls: bool = typer.Option(False, "--tls", help="Serve HTTPS with a throwaway local CA (MSAL needs https)."),
    tls_dir: Path | None = typer.Option(None, help="Where to write the CA bundle and server cert (default: temp)."),
    group_claim_limit: int = typer.Option(200, help="Groups in a token before the overage claim replaces them."),
    as_json: bool = JsonOption,
) -> None:
    """Serve sign-in (/{tenant}/...), Graph (/v1.0/...) and the admin API (/_simulator/...) on one port."""
    from entra_simulator.app import create_app
    from entra_simulator.seed import load, read_seed
    from entra_simulator.server import RunningServer, make_tls
    from entra_simulator.state import Settings, Simulator
    from entra_simulator.summary import summary

    try:
        directory = load(read_seed(seed))
    except FileNotFoundError as exc:
        raise fail(f"seed file {seed} not found; create one with `simulator generate > {seed}`", as_json) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise fail(f"seed file {seed} is not valid: {exc!r}; see docs/simulator.md for the format", as_json) from exc
    sim = Simulator(directory=directory, settings=Settings(group_claim_limit=group_claim_limit))
    if tls_dir:
        tls_dir.mkdir(parents=True, exist_ok=True)
    tls_files = make_tls(tls_dir) if tls else None
    try:
        server = RunningServer(create_app(sim), host, port, tls_files).start()
    except OSError as exc:
        raise fail(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port (0 = any free)", as_json
        ) from exc
    info: dict[str, Any] = {"url": server.url}
    if tls_files:
        info["ca_bundle"] = str(tls_files.ca_bundle)
    info["tenants"] = summary(directory, sim.clock())
    if as_json:
        print(json.dumps(info), flush=True)
    else:
        _print_ready(info)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()


def _print_ready(info: dict[str, Any]) -> None:
    console.print(f"[bold green]Entra ID simulator[/bold green] on {info['url']}")
    if "ca_bundle" in info:
        console.print(f"CA bundle: {info['ca_bundle']}  (export REQUESTS_CA_BUNDLE and SSL_CERT_FILE to trust it)")
    for tenant in info["tenants"]:
        console.print(f"\n[bold]{tenant['domain']}[/bold]  tenant id {tenant['id']}")
        console.print(f"  authority  {info['url']}/{tenant['id']}   Graph  {info['url']}/v1.0")
        for client in tenant["apps"]:
            console.print(f"  app        client_id {client['client_id']}  secret {client['client_secret']}")
        console.print(f"  groups     {len(tenant['groups'])}")
        for user in tenant["users"]:
            console.print(f"  sign in as {user['userPrincipalName']} / {user['password']}")
    console.print("\nCtrl+C stops the simulator.")


@app.command("generate")
def generate_command(
    users: int = typer.Option(100, "--users", min=1, help="Number of member users (the first is the admin)."),
    groups: int = typer.Option(20, "--groups", min=0, help="Number of groups."),
    nested: bool = typer.Option(False, "--nested", help="Nest groups in groups (never in cycles)."),
    guests: int = typer.Option(0, "--guests", min=0, help="Number of B2B guest users."),
    seed_value: int = typer.Option(1, "--seed-value", help="Random seed: the same value gives the same tenant."),
    redirect_uri: list[str] = typer.Option(
        ["http://localhost/callback"], "--redirect-uri", help="Redirect URI of the app (repeatable)."
    ),
    no_consent: bool = typer.Option(False, "--no-consent", help="Leave admin consent to the consent flow."),
    tenant_name: str = typer.Option("Contoso Nederland", help="Tenant display name."),
    domain: str = typer.Option("contoso-nl", help="Tenant name: <domain>.onmicrosoft.com."),
    output_format: str = typer.Option("yaml", "--format", help="yaml or json (json loads ~50x faster)."),
) -> None:
    """Write a realistic tenant (Dutch and international staff, groups, guests, one app) to stdout."""
    if output_format not in ("yaml", "json"):
        raise fail(f"--format must be yaml or json, not {output_format!r}", False)
    options = Options(
        users, groups, nested, guests, seed_value, list(redirect_uri), not no_consent, tenant_name, domain
    )
    seed = generate(options)
    text = json.dumps(seed, ensure_ascii=False) + "\n" if output_format == "json" else to_yaml(seed)
    sys.stdout.write(text)


@app.command("rotate-keys")
def rotate_keys(
    url: str = typer.Option(..., "--url", envvar="ENTRA_SIMULATOR_URL", help="The running simulator's URL."),
    ca_bundle: Path | None = client_options.ca_bundle,
    as_json: bool = JsonOption,
) -> None:
    """Make a new token-signing key current; the previous one stays published in the JWKS."""
    try:
        result = AdminClient(url, ca_bundle).post("/keys/rotate")
    except AdminError as exc:
        raise fail(str(exc), as_json) from exc
    if as_json:
        print(json.dumps(result))
    else:
        console.print(f"signing key now {result['signing_kid']}; published {', '.join(result['published'])}")

"""``koppel client ...`` (host-app clients of koppel's OpenID Provider) and the sign-in connection commands.

``add-entra-app`` and ``add-oidc`` join ``koppel connection`` (``register_connection_commands``).
"""

from __future__ import annotations

import typer

from koppel.clikit import JsonOption, emit, readable_errors, runtime
from koppel.organizations.service import get_organization
from koppel.sso import clients, connections, keys

client_app = typer.Typer(help="Host-app clients of koppel's OpenID Provider.", no_args_is_help=True)
CLIENT_COLUMNS = ("client_id", "name", "redirect_uris")


@client_app.command("create")
@readable_errors
def client_create(
    name: str = typer.Option(..., "--name", help="The host app's name."),
    redirect_uri: list[str] = typer.Option(..., "--redirect-uri", help="The app's OIDC callback (repeatable)."),
    post_logout_uri: list[str] = typer.Option([], "--post-logout-uri", help="Where sign-out may return to."),
    initiate_login_uri: str = typer.Option("", help="The app's login URL, for /sso/{org} entry links."),
    id_token_alg: str = typer.Option(
        keys.ALGORITHM, "--id-token-alg", help="Signature of its tokens: RS256 (any OIDC library) or ES256 (cheaper)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Register a host app. The client secret is shown this once; koppel keeps only its hash."""
    rt = runtime()
    with rt.transaction() as session:
        client, secret = clients.create_client(
            session=session, name=name, redirect_uris=redirect_uri, post_logout_redirect_uris=post_logout_uri,
            initiate_login_uri=initiate_login_uri or None, id_token_signed_response_alg=id_token_alg, now=rt.now(),
        )  # fmt: skip
        if id_token_alg != keys.ALGORITHM:  # its key in the JWKS before its first token
            keys.ensure_keys(session=session, secret_box=rt.secret_box, now=rt.now())
        out = clients.client_view(client, secret=secret)
    out["issuer"] = rt.settings.base_url
    out["discovery_url"] = f"{rt.settings.base_url}/.well-known/openid-configuration"
    emit(out, as_json=as_json)


@client_app.command("list")
@readable_errors
def client_list(as_json: bool = JsonOption) -> None:
    """List host-app clients (never their secrets)."""
    with runtime().transaction() as session:
        rows = [clients.client_view(c) for c in clients.list_clients(session=session)]
    emit(rows, as_json=as_json, columns=CLIENT_COLUMNS, title="Clients")


@client_app.command("rotate-signing-key")
@readable_errors
def rotate_signing_key(as_json: bool = JsonOption) -> None:
    """Sign new tokens with a new key; the previous one stays in the JWKS so issued tokens still verify."""
    rt = runtime()
    with rt.transaction() as session:
        out = keys.rotate_keys(session=session, secret_box=rt.secret_box, now=rt.now())
    emit(out, as_json=as_json)


@readable_errors
def add_entra_app(
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    identity_provider: str = typer.Option(
        ..., "--identity-provider", help="https://login.microsoftonline.com/<tenant-id or name.onmicrosoft.com>/"
    ),
    client_id: str = typer.Option(..., "--client-id", help="Application (client) ID of the app registration."),
    client_secret: str = typer.Option(..., "--client-secret", help="The client secret's Value (any characters)."),
    domain_hint: str = typer.Option("", "--domain-hint", help="Skip Microsoft's account picker for this domain."),
    api_audience: list[str] = typer.Option([], "--api-audience", help="api://… of the app's API (Teams/Outlook)."),
    api_client_app: list[str] = typer.Option(
        [], "--api-client-app", help="App id that may exchange tokens (default: Microsoft's Teams and Office apps)."
    ),
    name: str = typer.Option("Entra ID", "--name", help="Connection name."),
    as_json: bool = JsonOption,
) -> None:
    """Sign-in through the organization's own Entra app registration (customer-app mode, seed 001)."""
    rt = runtime()
    app = connections.EntraApp(
        identity_provider, client_id, client_secret, domain_hint or None, api_audience, api_client_app
    )
    with rt.transaction() as session:
        org_id = get_organization(session=session, ref=org).id
        connection = connections.add_entra_app(
            session=session, secret_box=rt.secret_box, org=org_id, app=app, name=name, now=rt.now()
        )
        out = connections.sso_view(connection, secret_box=rt.secret_box, base_url=rt.settings.base_url)
    emit(out, as_json=as_json)


@readable_errors
def add_oidc(
    org: str = typer.Option(..., "--org", help="Organization id or slug."),
    discovery_url: str = typer.Option(..., "--discovery-url", help="https://issuer/.well-known/openid-configuration"),
    client_id: str = typer.Option(..., "--client-id", help="Client ID the identity provider gave koppel."),
    client_secret: str = typer.Option(..., "--client-secret", help="Its client secret."),
    claim: list[str] = typer.Option([], "--claim", help="Claim mapping field=claim, e.g. email=upn (repeatable)."),
    scope: list[str] = typer.Option([], "--scope", help="Scopes to request (default: openid profile email)."),
    own_idp: bool = typer.Option(
        False, "--own-idp/--shared-idp", help="Own IdP admits all its users; shared admits only the org's domains."
    ),
    name: str = typer.Option("OpenID Connect", "--name", help="Connection name."),
    as_json: bool = JsonOption,
) -> None:
    """Sign-in through any OpenID Connect identity provider (Google, ADFS, Okta, …)."""
    rt = runtime()
    idp = connections.OidcIdp(discovery_url, client_id, client_secret, claim, scope, own_idp)
    with rt.transaction() as session:
        org_id = get_organization(session=session, ref=org).id
        connection = connections.add_oidc(
            session=session, secret_box=rt.secret_box, org=org_id, idp=idp, name=name, now=rt.now()
        )
        out = connections.sso_view(connection, secret_box=rt.secret_box, base_url=rt.settings.base_url)
    emit(out, as_json=as_json)


def register_connection_commands(connection_app: typer.Typer) -> typer.Typer:
    connection_app.command("add-entra-app")(add_entra_app)
    connection_app.command("add-oidc")(add_oidc)
    return connection_app

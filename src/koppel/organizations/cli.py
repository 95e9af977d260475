"""``koppel org ...``: organizations and their domains."""

from __future__ import annotations

from typing import Any

import typer

from koppel.clikit import JsonOption, emit, readable_errors, runtime
from koppel.organizations import service
from koppel.organizations.schemas import OrganizationOut

org_app = typer.Typer(help="Organizations (your customers).", no_args_is_help=True)
COLUMNS = ("id", "slug", "name", "domains")


def _out(org: Any) -> dict[str, Any]:
    return OrganizationOut.of(org).model_dump(mode="json")


@org_app.command("create")
@readable_errors
def create(
    slug: str = typer.Option(..., "--slug", help="Short name in URLs: lowercase letters, digits, hyphens."),
    name: str = typer.Option(..., "--name", help="The organization's name."),
    domain: list[str] = typer.Option([], "--domain", help="An e-mail domain (repeatable)."),
    privacy_statement_url: str = typer.Option("", help="URL of the organization's privacy statement."),
    as_json: bool = JsonOption,
) -> None:
    """Create an organization."""
    rt = runtime()
    fields = service.OrganizationFields(name=name, privacy_statement_url=privacy_statement_url or None)
    with rt.transaction() as session:
        out = _out(service.create_organization(session=session, slug=slug, fields=fields, domains=domain, now=rt.now()))
    emit(out, as_json=as_json)


@org_app.command("list")
@readable_errors
def list_(as_json: bool = JsonOption) -> None:
    """List organizations."""
    with runtime().transaction() as session:
        rows = [_out(o) for o in service.list_organizations(session=session)]
    emit(rows, as_json=as_json, columns=COLUMNS, title="Organizations")


@org_app.command("show")
@readable_errors
def show(org: str = typer.Argument(..., help="Id or slug."), as_json: bool = JsonOption) -> None:
    """Show one organization."""
    with runtime().transaction() as session:
        out = _out(service.get_organization(session=session, ref=org))
    emit(out, as_json=as_json)


@org_app.command("add-domain")
@readable_errors
def add_domain(
    org: str = typer.Argument(..., help="Id or slug."),
    domain: str = typer.Argument(..., help="E-mail domain, e.g. contoso.com."),
    as_json: bool = JsonOption,
) -> None:
    """Add an e-mail domain to an organization."""
    rt = runtime()
    with rt.transaction() as session:
        service.add_domain(session=session, ref=org, domain=domain, now=rt.now())
        out = _out(service.get_organization(session=session, ref=org))
    emit(out, as_json=as_json)


connection_app = typer.Typer(help="Connections: each organization's identity sources.", no_args_is_help=True)
CONNECTION_COLUMNS = ("id", "org_id", "kind", "name", "status", "last_error")


def connection_out(connection: Any) -> dict[str, Any]:
    """A connection as the CLI prints it (secrets by name only)."""
    from koppel.organizations.connections import secret_names
    from koppel.organizations.schemas import ConnectionOut

    out = ConnectionOut.model_validate(connection)
    out.secrets_set = secret_names(secret_box=runtime().secret_box, connection=connection)
    return out.model_dump(mode="json")


@connection_app.command("list")
@readable_errors
def connection_list(
    org: str = typer.Option(..., "--org", help="Organization id or slug."), as_json: bool = JsonOption
) -> None:
    """List an organization's connections with their status."""
    from koppel.organizations.connections import list_connections

    with runtime().transaction() as session:
        org_id = service.get_organization(session=session, ref=org).id
        rows = [connection_out(c) for c in list_connections(session=session, org_id=org_id)]
    emit(rows, as_json=as_json, columns=CONNECTION_COLUMNS, title="Connections")


@connection_app.command("show")
@readable_errors
def connection_show(
    connection: str = typer.Option(..., "--connection", help="Connection id."), as_json: bool = JsonOption
) -> None:
    """Show one connection: status, last error, settings."""
    from koppel.organizations.connections import get_connection

    with runtime().transaction() as session:
        out = connection_out(get_connection(session=session, connection_id=connection))
    emit(out, as_json=as_json)


@connection_app.command("remove")
@readable_errors
def connection_remove(
    connection: str = typer.Option(..., "--connection", help="Connection id."), as_json: bool = JsonOption
) -> None:
    """Remove a connection and the users and groups it brought (with events)."""
    from koppel.organizations.connections import delete_connection, get_connection

    rt = runtime()
    with rt.transaction() as session:
        delete_connection(
            session=session, connection=get_connection(session=session, connection_id=connection), now=rt.now()
        )
    emit({"removed": connection}, as_json=as_json)

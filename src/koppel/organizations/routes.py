"""``/api/v1/organizations``: organizations, their domains and connections (thin routes).

Operator API keys reach every organization; an organization-scoped key reaches only its own
and cannot create or delete organizations.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from koppel.api.deps import ApiKeyDep, NowDep, SecretBoxDep, SessionDep, check_org_access
from koppel.apikeys.models import ApiKey
from koppel.errors import Forbidden
from koppel.organizations import connections, service
from koppel.organizations.models import Connection, Organization
from koppel.organizations.schemas import (
    ConnectionCreate,
    ConnectionOut,
    ConnectionUpdate,
    DomainCreate,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
)
from koppel.security.crypto import SecretBox

router = APIRouter(prefix="/api/v1/organizations", tags=["organizations"])


def owned_organization(session: Session, key: ApiKey, ref: str) -> Organization:
    """The organization ``ref`` (id or slug), if this key may reach it."""
    org = service.get_organization(session=session, ref=ref)
    check_org_access(key, org.id)
    return org


def _operator_only(key: ApiKey) -> None:
    if key.org_id is not None:
        raise Forbidden("only an operator API key (not limited to one organization) may do this")


def _fields(body: OrganizationCreate | OrganizationUpdate) -> service.OrganizationFields:
    return service.OrganizationFields(
        **body.model_dump(include=set(service.OrganizationFields.__dataclass_fields__), exclude_unset=False)
    )


@router.post("", status_code=201, response_model=OrganizationOut)
def create_organization(body: OrganizationCreate, session: SessionDep, key: ApiKeyDep, now: NowDep) -> Organization:
    _operator_only(key)
    return service.create_organization(
        session=session, slug=body.slug, fields=_fields(body), domains=body.domains, now=now
    )


@router.get("", response_model=list[OrganizationOut])
def list_organizations(session: SessionDep, key: ApiKeyDep) -> list[Organization]:
    return service.list_organizations(session=session, org_id=key.org_id)


@router.get("/{org}", response_model=OrganizationOut)
def read_organization(org: str, session: SessionDep, key: ApiKeyDep) -> Organization:
    return owned_organization(session, key, org)


@router.patch("/{org}", response_model=OrganizationOut)
def update_organization(
    org: str, body: OrganizationUpdate, session: SessionDep, key: ApiKeyDep, now: NowDep
) -> Organization:
    found = owned_organization(session, key, org)
    return service.update_organization(session=session, ref=found.id, fields=_fields(body), now=now)


@router.delete("/{org}", status_code=204)
def delete_organization(org: str, session: SessionDep, key: ApiKeyDep, now: NowDep) -> Response:
    _operator_only(key)
    service.delete_organization(session=session, ref=org, now=now)
    return Response(status_code=204)


@router.post("/{org}/domains", status_code=201, response_model=OrganizationOut)
def add_domain(org: str, body: DomainCreate, session: SessionDep, key: ApiKeyDep, now: NowDep) -> Organization:
    found = owned_organization(session, key, org)
    service.add_domain(session=session, ref=found.id, domain=body.domain, now=now)
    return found


@router.delete("/{org}/domains/{domain}", status_code=204)
def remove_domain(org: str, domain: str, session: SessionDep, key: ApiKeyDep, now: NowDep) -> Response:
    found = owned_organization(session, key, org)
    service.remove_domain(session=session, ref=found.id, domain=domain, now=now)
    return Response(status_code=204)


def connection_out(box: SecretBox, connection: Connection) -> ConnectionOut:
    out = ConnectionOut.model_validate(connection)
    out.secrets_set = connections.secret_names(secret_box=box, connection=connection)
    return out


@router.post("/{org}/connections", status_code=201, response_model=ConnectionOut)
def create_connection(
    org: str, body: ConnectionCreate, session: SessionDep, key: ApiKeyDep, box: SecretBoxDep, now: NowDep
) -> ConnectionOut:
    found = owned_organization(session, key, org)
    created = connections.create_connection(
        session=session,
        secret_box=box,
        org=found.id,
        kind=body.kind,
        name=body.name,
        settings=body.settings,
        secrets=body.secrets,
        now=now,
    )
    return connection_out(box, created)


@router.get("/{org}/connections", response_model=list[ConnectionOut])
def list_connections(org: str, session: SessionDep, key: ApiKeyDep, box: SecretBoxDep) -> list[ConnectionOut]:
    found = owned_organization(session, key, org)
    return [connection_out(box, c) for c in connections.list_connections(session=session, org_id=found.id)]


@router.get("/{org}/connections/{connection_id}", response_model=ConnectionOut)
def read_connection(
    org: str, connection_id: str, session: SessionDep, key: ApiKeyDep, box: SecretBoxDep
) -> ConnectionOut:
    found = owned_organization(session, key, org)
    connection = connections.get_connection(session=session, connection_id=connection_id, org_id=found.id)
    return connection_out(box, connection)


@router.patch("/{org}/connections/{connection_id}", response_model=ConnectionOut)
def update_connection(
    org: str,
    connection_id: str,
    body: ConnectionUpdate,
    session: SessionDep,
    key: ApiKeyDep,
    box: SecretBoxDep,
    now: NowDep,
) -> ConnectionOut:
    found = owned_organization(session, key, org)
    connection = connections.get_connection(session=session, connection_id=connection_id, org_id=found.id)
    updated = connections.update_connection(
        session=session,
        secret_box=box,
        connection=connection,
        name=body.name,
        settings=body.settings,
        secrets=body.secrets,
        now=now,
    )
    return connection_out(box, updated)


@router.delete("/{org}/connections/{connection_id}", status_code=204)
def delete_connection(org: str, connection_id: str, session: SessionDep, key: ApiKeyDep, now: NowDep) -> Response:
    found = owned_organization(session, key, org)
    connection = connections.get_connection(session=session, connection_id=connection_id, org_id=found.id)
    connections.delete_connection(session=session, connection=connection, now=now)
    return Response(status_code=204)

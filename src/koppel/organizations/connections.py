"""Connections: an organization's identity sources (``entra``, ``oidc``, ``scim``).

Secrets are write-only: they are stored encrypted (``SecretBox``) and no function here returns
them. Capabilities (Graph sync, SSO, SCIM) own the meaning of ``settings`` for their kind and
move a connection's status through ``set_status``, which records an event an admin can follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.directory.changes import ChangeSet
from koppel.directory.models import DirectoryGroup, DirectoryUser
from koppel.directory.service import apply_changes
from koppel.errors import Conflict, InvalidInput, NotFound
from koppel.events.log import NewEvent, append
from koppel.organizations.models import CONNECTION_KINDS, CONNECTION_STATUSES, Connection
from koppel.organizations.service import get_organization
from koppel.organizations.validation import check_name
from koppel.security.crypto import SecretBox

# Where a new connection starts: an Entra connection needs the tenant admin's consent first.
INITIAL_STATUS = {"entra": "needs_consent", "oidc": "healthy", "scim": "healthy"}


def get_connection(*, session: Session, connection_id: str, org_id: str | None = None) -> Connection:
    """By id; with ``org_id`` only within that organization (tenant isolation)."""
    connection = session.get(Connection, connection_id)
    if connection is None or (org_id is not None and connection.org_id != org_id):
        raise NotFound(f"no connection {connection_id!r}; list them with GET /api/v1/organizations/ORG/connections")
    return connection


def list_connections(*, session: Session, org_id: str, kind: str | None = None) -> list[Connection]:
    query = select(Connection).where(Connection.org_id == org_id).order_by(Connection.created_at, Connection.id)
    if kind is not None:
        query = query.where(Connection.kind == kind)
    return list(session.scalars(query))


def create_connection(
    *,
    session: Session,
    secret_box: SecretBox,
    org: str,
    kind: str,
    name: str,
    settings: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    now: datetime,
) -> Connection:
    organization = get_organization(session=session, ref=org)
    if kind not in CONNECTION_KINDS:
        raise InvalidInput(f"kind {kind!r} is not one of {', '.join(CONNECTION_KINDS)}", field="kind")
    name = check_name(name)
    _check_unique_name(session, organization.id, name)
    connection = Connection(
        org_id=organization.id,
        kind=kind,
        name=name,
        status=INITIAL_STATUS[kind],
        settings=dict(settings or {}),
        secrets=secret_box.encrypt_json(dict(secrets)) if secrets else None,
        created_at=now,
        updated_at=now,
    )
    session.add(connection)
    session.flush()
    _event(session, "connection.created", connection, now)
    return connection


def update_connection(
    *,
    session: Session,
    secret_box: SecretBox,
    connection: Connection,
    name: str | None = None,
    settings: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str | None] | None = None,
    now: datetime,
) -> Connection:
    """Change what is given. ``settings`` and ``secrets`` merge; a ``None`` secret removes it."""
    if name is not None and check_name(name) != connection.name:
        _check_unique_name(session, connection.org_id, check_name(name))
        connection.name = check_name(name)
    if settings is not None:
        connection.settings = {**connection.settings, **settings}
    if secrets is not None:
        stored = secret_box.decrypt_json(connection.secrets) if connection.secrets else {}
        merged = {k: v for k, v in {**stored, **secrets}.items() if v is not None}
        connection.secrets = secret_box.encrypt_json(merged) if merged else None
    connection.updated_at = now
    _event(session, "connection.updated", connection, now)
    return connection


def set_status(
    *, session: Session, connection: Connection, status: str, last_error: str | None = None, now: datetime
) -> bool:
    """Move the status on; returns whether anything changed (an event is appended only then)."""
    if status not in CONNECTION_STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(CONNECTION_STATUSES)}", field="status")
    if connection.status == status and connection.last_error == last_error:
        return False
    previous = connection.status
    connection.status, connection.last_error, connection.updated_at = status, last_error, now
    _event(session, "connection.status_changed", connection, now, previous_status=previous)
    return True


def secret_names(*, secret_box: SecretBox, connection: Connection) -> list[str]:
    """Which secrets are set (their names, never their values): what the API shows."""
    return sorted(secret_box.decrypt_json(connection.secrets)) if connection.secrets else []


def delete_connection(*, session: Session, connection: Connection, now: datetime) -> None:
    """Remove the connection and, through the directory's one writer, its users and groups (with events)."""
    users = session.scalars(select(DirectoryUser.external_id).where(DirectoryUser.connection_id == connection.id))
    groups = session.scalars(select(DirectoryGroup.external_id).where(DirectoryGroup.connection_id == connection.id))
    apply_changes(
        session=session,
        changes=ChangeSet(
            org_id=connection.org_id, connection_id=connection.id, delete_users=list(users), delete_groups=list(groups)
        ),
        now=now,
    )
    _event(session, "connection.deleted", connection, now)
    session.delete(connection)
    session.flush()


def connection_snapshot(connection: Connection) -> dict[str, Any]:
    return {
        "id": connection.id,
        "kind": connection.kind,
        "name": connection.name,
        "status": connection.status,
        "last_error": connection.last_error,
    }


def _check_unique_name(session: Session, org_id: str, name: str) -> None:
    taken = select(Connection.id).where(Connection.org_id == org_id, Connection.name == name)
    if session.scalar(taken) is not None:
        raise Conflict(f"this organization already has a connection named {name!r}; choose another name", field="name")


def _event(session: Session, type_: str, connection: Connection, now: datetime, **extra: Any) -> None:
    data = {**connection_snapshot(connection), **extra}
    append(session, [NewEvent(type_, connection.org_id, connection.id, data)], now=now)

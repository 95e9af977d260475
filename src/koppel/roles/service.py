"""Role mappings of an organization: group → role (seed 001's "koppelvlaktabel")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.directory.models import DirectoryGroup
from koppel.errors import Conflict, InvalidInput, NotFound
from koppel.events.log import NewEvent, append
from koppel.roles.models import RoleMapping


def list_mappings(*, session: Session, org_id: str) -> list[RoleMapping]:
    query = select(RoleMapping).where(RoleMapping.org_id == org_id)
    return list(session.scalars(query.order_by(RoleMapping.group_key, RoleMapping.role)))


def group_names(*, session: Session, org_id: str, keys: list[str]) -> dict[str, str]:
    """Display names of mapped groups that koppel has seen, by external id or on-prem name."""
    if not keys:
        return {}
    rows = session.execute(
        select(DirectoryGroup.external_id, DirectoryGroup.sam_account_name, DirectoryGroup.display_name).where(
            DirectoryGroup.org_id == org_id
        )
    )
    names: dict[str, str] = {}
    for external_id, sam, display in rows:
        names[external_id] = display
        if sam:
            names[sam] = display
    return {k: names[k] for k in keys if k in names}


def add_mapping(*, session: Session, org_id: str, group_key: str, role: str, now: datetime) -> RoleMapping:
    group_key, role = group_key.strip(), role.strip()
    if not group_key or len(group_key) > 256:
        raise InvalidInput("group_key must be the group's object id or name (1 to 256 characters)", field="group_key")
    if not role or len(role) > 100:
        raise InvalidInput("role must be 1 to 100 characters", field="role")
    exists = select(RoleMapping.id).where(
        RoleMapping.org_id == org_id, RoleMapping.group_key == group_key, RoleMapping.role == role
    )
    if session.scalar(exists) is not None:
        raise Conflict(f"group {group_key!r} already maps to role {role!r}")
    mapping = RoleMapping(org_id=org_id, group_key=group_key, role=role, created_at=now)
    session.add(mapping)
    session.flush()
    _event(session, "role_mapping.created", mapping, now)
    return mapping


def remove_mapping(*, session: Session, org_id: str, mapping_id: str, now: datetime) -> None:
    mapping = session.get(RoleMapping, mapping_id)
    if mapping is None or mapping.org_id != org_id:
        raise NotFound(f"no role mapping {mapping_id!r} in this organization")
    _event(session, "role_mapping.deleted", mapping, now)
    session.delete(mapping)
    session.flush()


def _event(session: Session, type_: str, mapping: RoleMapping, now: datetime) -> None:
    data = {"id": mapping.id, "group_key": mapping.group_key, "role": mapping.role}
    append(session, [NewEvent(type_, mapping.org_id, mapping.id, data)], now=now)

"""Organizations and their e-mail domains: create, read, change, remove.

Service functions are keyword-only, take the caller's session and ``now``, and raise
``KoppelError``s an admin can act on. Every change appends an event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from koppel.errors import Conflict, NotFound
from koppel.events.log import NewEvent, append
from koppel.organizations.models import Organization, OrganizationDomain
from koppel.organizations.validation import check_domain, check_name, check_slug, check_url


@dataclass(frozen=True)
class OrganizationFields:
    """What an admin may set on an organization; ``None`` leaves a field as it is on update."""

    name: str | None = None
    privacy_statement_url: str | None = None
    terms_of_use_url: str | None = None
    terms_of_use_text: str | None = None
    default_role: str | None = None
    deny_unmapped: bool | None = None


def get_organization(*, session: Session, ref: str) -> Organization:
    """By id or slug."""
    org = session.scalar(select(Organization).where(or_(Organization.id == ref, Organization.slug == ref)))
    if org is None:
        raise NotFound(f"no organization {ref!r}; list them with: koppel org list")
    return org


def list_organizations(*, session: Session, org_id: str | None = None) -> list[Organization]:
    query = select(Organization).order_by(Organization.slug)
    if org_id is not None:
        query = query.where(Organization.id == org_id)
    return list(session.scalars(query))


def create_organization(
    *, session: Session, slug: str, fields: OrganizationFields, domains: Iterable[str] = (), now: datetime
) -> Organization:
    slug = check_slug(slug)
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise Conflict(f"an organization with slug {slug!r} already exists; choose another slug", field="slug")
    org = Organization(slug=slug, name=check_name(fields.name or ""), created_at=now, updated_at=now)
    _apply(org, fields)
    session.add(org)
    session.flush()
    for domain in domains:
        _add_domain(session, org, domain, now)
    _event(session, "organization.created", org, now)
    return org


def update_organization(*, session: Session, ref: str, fields: OrganizationFields, now: datetime) -> Organization:
    org = get_organization(session=session, ref=ref)
    before = (org.terms_of_use_url, org.terms_of_use_text)
    _apply(org, fields)
    if (org.terms_of_use_url, org.terms_of_use_text) != before:
        org.terms_version += 1  # users accept terms per version (invitations)
    org.updated_at = now
    _event(session, "organization.updated", org, now)
    return org


def delete_organization(*, session: Session, ref: str, now: datetime) -> None:
    org = get_organization(session=session, ref=ref)
    _event(session, "organization.deleted", org, now)
    session.delete(org)
    session.flush()


def add_domain(*, session: Session, ref: str, domain: str, now: datetime) -> OrganizationDomain:
    org = get_organization(session=session, ref=ref)
    added = _add_domain(session, org, domain, now)
    _event(session, "organization.updated", org, now)
    return added


def remove_domain(*, session: Session, ref: str, domain: str, now: datetime) -> None:
    org = get_organization(session=session, ref=ref)
    value = check_domain(domain, field="domain")
    found = next((d for d in org.domains if d.domain == value), None)
    if found is None:
        raise NotFound(f"{org.slug} has no domain {value!r}", field="domain")
    org.domains.remove(found)
    session.flush()
    _event(session, "organization.updated", org, now)


def organization_for_domain(*, session: Session, domain: str) -> Organization | None:
    """Home-realm discovery: the organization that owns an e-mail domain."""
    return session.scalar(
        select(Organization)
        .join(OrganizationDomain)
        .where(OrganizationDomain.domain == domain.lower(), OrganizationDomain.verified.is_(True))
    )


def organization_snapshot(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "slug": org.slug, "name": org.name, "domains": [d.domain for d in org.domains]}


def _apply(org: Organization, fields: OrganizationFields) -> None:
    if fields.name is not None:
        org.name = check_name(fields.name)
    if fields.privacy_statement_url is not None:
        org.privacy_statement_url = check_url(fields.privacy_statement_url, field="privacy_statement_url")
    if fields.terms_of_use_url is not None:
        org.terms_of_use_url = check_url(fields.terms_of_use_url, field="terms_of_use_url")
    if fields.terms_of_use_text is not None:
        org.terms_of_use_text = fields.terms_of_use_text.strip() or None
    if fields.default_role is not None:
        org.default_role = fields.default_role.strip() or None
    if fields.deny_unmapped is not None:
        org.deny_unmapped = fields.deny_unmapped


def _add_domain(session: Session, org: Organization, domain: str, now: datetime) -> OrganizationDomain:
    value = check_domain(domain)
    owner = session.scalar(select(OrganizationDomain.org_id).where(OrganizationDomain.domain == value))
    if owner == org.id:
        raise Conflict(f"{org.slug} already has the domain {value!r}", field="domains")
    if owner is not None:
        raise Conflict(
            f"the domain {value!r} already belongs to another organization; a domain can route to one only",
            field="domains",
        )
    added = OrganizationDomain(org_id=org.id, domain=value, created_at=now)
    org.domains.append(added)
    session.flush()
    return added


def _event(session: Session, type_: str, org: Organization, now: datetime) -> None:
    append(session, [NewEvent(type_, org.id, org.id, organization_snapshot(org))], now=now)

"""Access policy and role mapping through real logins (issue 5 §3, §5, §7): simulator → koppel → host."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from koppel.db.base import utcnow
from koppel.directory.changes import ChangeSet, GroupRecord, UserRecord
from koppel.directory.service import apply_changes
from koppel.events.models import Event
from koppel.organizations.models import Organization
from koppel.roles.models import RoleMapping
from koppel.sso.service import groups_seen
from tests.simulator.support import PASSWORD, TENANT_ID, USER_UPN, SimulatorHandle
from tests.sso.conftest import Setup
from tests.sso.flows import Refused, sign_in
from tests.sso.test_platform_login import verify_id_token

Db = Callable[[], AbstractContextManager[Session]]
GUEST = "sam@fabrikam.example"
# The simulator signs a guest in by their UPN in the tenant (it does not redirect to a home IdP).
GUEST_UPN = "sam_fabrikam.example#EXT#@contoso-nl.onmicrosoft.com"


def events(db: Db, type_: str) -> list[Event]:
    with db() as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def sync_jan(db: Db, entra: SimulatorHandle, setup: Setup) -> str:
    """What a Graph sync would write: Jan and his groups, keyed by Entra object ids."""
    tenant = entra.sim.directory.tenants[TENANT_ID]
    jan = tenant.find_user(USER_UPN)
    assert jan is not None
    groups = [g for g in tenant.groups.values() if jan.id in g.members]
    changes = ChangeSet(
        org_id=setup.org_id,
        connection_id=setup.connection_id,
        upsert_users=[UserRecord(external_id=jan.id, user_name=USER_UPN, email=USER_UPN, given_name="Jan")],
        upsert_groups=[GroupRecord(external_id=g.id, display_name=g.props["displayName"]) for g in groups],
        set_members={g.id: [jan.id] for g in groups},
    )
    with db() as session:
        apply_changes(session=session, changes=changes, now=utcnow())
    return jan.id


def set_org(db: Db, setup: Setup, **values: object) -> None:
    with db() as session:
        org = session.get_one(Organization, setup.org_id)
        for key, value in values.items():
            setattr(org, key, value)


def test_group_names_from_the_directory_map_to_roles(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup, db: Db, entra: SimulatorHandle
) -> None:
    sync_jan(db, entra, platform)
    with db() as session:
        session.add(RoleMapping(org_id=platform.org_id, group_key="Verkoop", role="sales"))
    set_org(db, platform, default_role="viewer")
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    claims = verify_id_token(koppel, tokens.json()["id_token"])
    assert claims["roles"] == ["sales"]
    assert {"Verkoop", "Finance"} <= set(claims["groups"])
    with db() as session:
        table = groups_seen(session=session, org_id=platform.org_id)
    assert {r["name"] for r in table} >= {"Verkoop", "Finance"}
    assert next(r for r in table if r["name"] == "Verkoop")["mapped_role"] == "sales"


def test_default_role_and_deny_unmapped(koppel: TestClient, idp_http: httpx.Client, platform: Setup, db: Db) -> None:
    set_org(db, platform, default_role="viewer")
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    assert verify_id_token(koppel, tokens.json()["id_token"])["roles"] == ["viewer"]
    set_org(db, platform, deny_unmapped=True)
    refused = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    assert isinstance(refused, Refused) and "none of your groups has a role" in refused.description
    assert events(db, "sso.login.failed")[-1].data["reason"] == "no_role"
    # groups seen in the refused login are listed, so the admin can map them
    with db() as session:
        assert len(groups_seen(session=session, org_id=platform.org_id)) == 3


def test_guest_of_the_tenant_may_sign_in(koppel: TestClient, idp_http: httpx.Client, platform: Setup) -> None:
    tokens = sign_in(koppel, idp_http, platform.host, GUEST_UPN, PASSWORD, organization="contoso")
    assert verify_id_token(koppel, tokens.json()["id_token"])["email"] == GUEST


def test_directory_only_needs_an_active_synced_user(
    koppel: TestClient, idp_http: httpx.Client, platform: Setup, db: Db, entra: SimulatorHandle
) -> None:
    set_org(db, platform, settings={"sso_provisioning": "directory"})
    refused = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    assert isinstance(refused, Refused) and "not in the organization's synced directory" in refused.description
    jan = sync_jan(db, entra, platform)
    tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    assert tokens.status_code == 200
    refresh = tokens.json()["refresh_token"]

    with db() as session:
        apply_changes(
            session=session,
            changes=ChangeSet(platform.org_id, platform.connection_id, deactivate_users=[(jan, "left the group")]),
            now=utcnow(),
        )
    refused = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
    assert isinstance(refused, Refused) and "deactivated" in refused.description
    stopped = koppel.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=(platform.host.client_id, platform.host.client_secret),
    )
    assert stopped.status_code == 400 and stopped.json()["error"] == "invalid_grant"
    reasons = [e.data["reason"] for e in events(db, "sso.login.failed")]
    assert reasons == ["not_in_directory", "deactivated"]
    assert len(events(db, "sso.login.succeeded")) == 1

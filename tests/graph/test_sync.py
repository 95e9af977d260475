"""Issue 4 §4 and §7: the sync engine end to end against the simulator over HTTPS."""

from __future__ import annotations

from sqlalchemy import select

from koppel.db.engine import transaction
from koppel.directory.models import DirectoryGroup, Membership
from koppel.events.models import Event
from koppel.graph.client import forget_tokens
from koppel.graph.protocol import paging
from tests.graph.conftest import (
    ADMIN,
    CUSTOMER,
    CUSTOMER_DOMAIN,
    GROUP,
    Koppel,
    add_member,
    configure,
    group_id,
    remove_member,
    upn,
    user_id,
)

GUEST = "gast_partner.example#EXT#@gesprekscyclus.onmicrosoft.com"
NESTED_USER = f"genest@{CUSTOMER_DOMAIN}"


def direct_members() -> set[str]:
    return {user_id(upn(i)) for i in range(8)} | {user_id(GUEST)}


def test_first_run_takes_direct_members_with_their_attributes(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.mode == "full", run.errors
    assert run.created == 9 and run.deactivated == 0 and run.expected == 10 and run.processed == 9
    users = koppel.users()
    assert set(users) == direct_members()  # the nested group's member is not expanded (seed 000)
    jan = users[user_id(upn(3))]
    assert (jan.user_name, jan.email, jan.job_title, jan.department) == (upn(3), upn(3), "Docent", "Onderwijs")
    guest = users[user_id(GUEST)]
    assert (guest.user_type, guest.external_user_state, guest.status) == ("Guest", "PendingAcceptance", "active")
    with transaction(koppel.factory) as session:
        group = session.scalar(select(DirectoryGroup))
        assert group is not None and (group.external_id, group.display_name) == (group_id(GROUP), GROUP)
        assert len(list(session.scalars(select(Membership)))) == 9
    assert koppel.connection(connection_id).status == "healthy"


def test_later_runs_use_delta_and_cost_follows_the_changes(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)
    quiet = koppel.sync(connection_id)
    assert quiet.mode == "delta" and quiet.outcome == "succeeded"
    assert (quiet.created, quiet.updated, quiet.deactivated) == (0, 0, 0)
    assert quiet.graph_requests == 2  # one groups delta page, one users delta page

    koppel.entra.admin.post(
        f"/tenants/{CUSTOMER}/users", {"userPrincipalName": f"nieuw@{CUSTOMER_DOMAIN}", "givenName": "Nieuw"}
    )
    add_member(koppel.entra, group_id(GROUP), f"nieuw@{CUSTOMER_DOMAIN}")
    remove_member(koppel.entra, group_id(GROUP), upn(1))
    run = koppel.sync(connection_id)
    assert run.mode == "delta" and run.outcome == "succeeded", run.errors
    assert (run.created, run.deactivated) == (1, 1)
    users = koppel.users()
    assert users[user_id(f"nieuw@{CUSTOMER_DOMAIN}")].status == "active"
    assert users[user_id(upn(1))].status == "deactivated"
    with transaction(koppel.factory) as session:
        reasons = [e.data.get("reason") for e in session.scalars(select(Event).where(Event.type == "user.deactivated"))]
    assert reasons == ["left every scoped group"]

    add_member(koppel.entra, group_id(GROUP), upn(1))  # and back in: reactivated, same koppel user
    koppel.sync(connection_id)
    assert koppel.users()[user_id(upn(1))].status == "active"


def test_upn_rename_and_attribute_changes_update_the_same_user(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)
    before = koppel.users()[user_id(upn(2))]
    renamed = f"m.twee@{CUSTOMER_DOMAIN}"
    koppel.entra.admin.patch(
        f"/tenants/{CUSTOMER}/users/{user_id(upn(2))}",
        {"userPrincipalName": renamed, "jobTitle": "Teamleider", "mobilePhone": "+31 6 1234 5678"},
    )
    run = koppel.sync(connection_id)
    assert run.mode == "delta" and run.updated == 1
    after = koppel.users()[user_id(upn(2))]
    assert after.id == before.id
    assert (after.user_name, after.job_title, after.mobile_phone) == (renamed, "Teamleider", "+31 6 1234 5678")


def test_guest_pending_then_accepted(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)
    assert koppel.users()[user_id(GUEST)].external_user_state == "PendingAcceptance"
    koppel.entra.admin.patch(f"/tenants/{CUSTOMER}/users/{user_id(GUEST)}", {"externalUserState": "Accepted"})
    koppel.sync(connection_id)
    guest = koppel.users()[user_id(GUEST)]
    assert (guest.user_type, guest.external_user_state, guest.status) == ("Guest", "Accepted", "active")


def test_disabled_and_deleted_users_are_deactivated(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    configure(koppel, connection_id, guard_percent=50)
    koppel.sync(connection_id)
    koppel.entra.admin.post(f"/tenants/{CUSTOMER}/users/{user_id(upn(4))}/disable")
    koppel.entra.admin.delete(f"/tenants/{CUSTOMER}/users/{user_id(upn(5))}")
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.deactivated == 2, run.errors
    users = koppel.users()
    assert users[user_id(upn(4))].status == "deactivated" and users[user_id(upn(4))].account_enabled is False
    assert users[user_id(upn(5))].status == "deactivated"
    koppel.entra.admin.patch(f"/tenants/{CUSTOMER}/users/{user_id(upn(4))}", {"accountEnabled": True})
    koppel.sync(connection_id)
    assert koppel.users()[user_id(upn(4))].status == "active"


def test_nested_groups_direct_by_default_and_expanded_when_transitive(koppel: Koppel) -> None:
    direct = koppel.connected()
    koppel.sync(direct)
    assert user_id(NESTED_USER) not in koppel.users()
    add_member(koppel.entra, group_id("Geneste groep"), upn(7))  # changes inside the nested group do not matter
    assert koppel.sync(direct).outcome == "succeeded"
    assert user_id(NESTED_USER) not in koppel.users()


def test_transitive_connection_follows_nested_membership_both_ways(koppel: Koppel) -> None:
    connection_id = koppel.connected(transitive=True)
    configure(koppel, connection_id, guard_percent=50)
    koppel.sync(connection_id)
    assert koppel.active() == direct_members() | {user_id(NESTED_USER)}
    koppel.entra.admin.post(
        f"/tenants/{CUSTOMER}/users", {"userPrincipalName": f"diep@{CUSTOMER_DOMAIN}", "givenName": "Diep"}
    )
    add_member(koppel.entra, group_id("Geneste groep"), f"diep@{CUSTOMER_DOMAIN}")
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.created == 1, run.errors
    assert user_id(f"diep@{CUSTOMER_DOMAIN}") in koppel.active()
    remove_member(koppel.entra, group_id(GROUP), group_id("Geneste groep"))  # the nested group leaves
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.deactivated == 2, run.errors
    assert koppel.active() == direct_members()


def test_deleted_scoped_group_removes_its_members_and_says_so(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    configure(koppel, connection_id, guard_percent=100)
    koppel.sync(connection_id)
    koppel.entra.admin.delete(f"/tenants/{CUSTOMER}/groups/{group_id(GROUP)}")
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.deactivated == 9, run.errors
    assert koppel.active() == set()
    connection = koppel.connection(connection_id)
    assert connection.status == "failing" and "deleted in Entra" in connection.last_error
    assert connection.settings["group_ids"] == []


def test_revoked_consent_changes_no_data(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)
    before = {k: (u.status, u.user_name) for k, u in koppel.users().items()}
    koppel.entra.admin.delete(f"/tenants/{CUSTOMER}/consent/{koppel.settings.entra_client_id}")
    remove_member(koppel.entra, group_id(GROUP), upn(0))
    forget_tokens(koppel.settings, CUSTOMER)  # as when the cached token expires
    run = koppel.sync(connection_id)
    assert run.outcome == "failed"
    connection = koppel.connection(connection_id)
    assert connection.status == "consent_revoked" and "consent" in connection.last_error
    assert {k: (u.status, u.user_name) for k, u in koppel.users().items()} == before


def test_more_scoped_groups_than_one_delta_filter_takes_means_full_runs_that_miss_nothing(koppel: Koppel) -> None:
    names = [f"Team {i:02d}" for i in range(paging.DELTA_FILTER_MAX)]
    for name in names:
        koppel.entra.admin.post(f"/tenants/{CUSTOMER}/groups", {"displayName": name, "members": []})
    last = names[-1]
    connection_id = koppel.connected(groups=[group_id(GROUP), *map(group_id, names)])
    assert koppel.sync(connection_id).outcome == "succeeded"
    assert user_id(ADMIN) not in koppel.active()
    add_member(koppel.entra, group_id(last), ADMIN)  # in the 51st group: beyond one groups/delta filter
    run = koppel.sync(connection_id)
    assert run.mode == "full" and run.outcome == "succeeded", run.errors
    assert user_id(ADMIN) in koppel.active()

"""Issue 4 §5 and §7: throttling, 5xx bursts, errors mid-run, delta token expiry, the deletion guard."""

from __future__ import annotations

import pytest

from koppel.db.engine import transaction
from koppel.graph import service
from koppel.graph.errors import SyncNotAllowed
from koppel.organizations.connections import get_connection
from tests.graph.conftest import GROUP, Koppel, group_id, remove_member, upn, user_id


def test_throttling_storm_is_waited_out_as_graph_asks(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.entra.fault(kind="throttle", endpoint="members", retry_after=7, count=4)
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.created == 9, run.errors
    assert koppel.sleeps == [7, 7, 7, 7]  # Retry-After honoured exactly, four times
    assert run.graph_requests >= 4 + 3


def test_5xx_burst_is_retried_with_backoff(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)
    remove_member(koppel.entra, group_id(GROUP), upn(0))
    koppel.entra.fault(kind="error", status=502, endpoint="delta", count=3)
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.deactivated == 1, run.errors
    assert len(koppel.sleeps) == 3 and all(0 <= s <= 30 for s in koppel.sleeps)


def test_a_run_that_meets_an_error_deactivates_nobody_and_the_next_converges(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)
    remove_member(koppel.entra, group_id(GROUP), upn(0))
    koppel.entra.fault(kind="error", status=500, endpoint="/v1.0/users/delta*")  # the users round keeps failing
    run = koppel.sync(connection_id)
    assert run.outcome == "failed" and "kept failing" in run.errors[-1]
    assert user_id(upn(0)) in koppel.active()  # the groups round said "removed", but the run did not finish
    assert koppel.connection(connection_id).status == "failing"
    koppel.entra.clear_faults()
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.deactivated == 1, run.errors
    assert user_id(upn(0)) not in koppel.active()
    assert koppel.connection(connection_id).status == "healthy"


def test_expired_delta_token_falls_back_to_a_full_resync(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)
    remove_member(koppel.entra, group_id(GROUP), upn(3))
    koppel.entra.admin.patch("/settings", {"delta_token_ttl_seconds": 0})
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.mode == "full", run.errors
    assert "delta token expired: full resync" in run.errors and run.deactivated == 1
    assert koppel.active() == {user_id(upn(i)) for i in range(8) if i != 3} | {
        user_id(f"gast_partner.example#EXT#@{'gesprekscyclus.onmicrosoft.com'}")
    }


def _decide(koppel: Koppel, connection_id: str, approve: bool) -> None:
    with transaction(koppel.factory) as session:
        connection = get_connection(session=session, connection_id=connection_id)
        if approve:
            service.approve_run(
                session=session,
                settings=koppel.settings,
                connection=connection,
                run_id=None,
                decided_by="test",
                now=koppel.clock(),
            )
        else:
            service.reject_run(
                session=session, connection=connection, run_id=None, decided_by="test", now=koppel.clock()
            )


@pytest.mark.parametrize("approve", [True, False])
def test_mass_removal_trips_the_guard_and_waits_for_a_decision(koppel: Koppel, approve: bool) -> None:
    connection_id = koppel.connected()
    koppel.sync(connection_id)  # 9 users: the guard allows 20% = 1 deactivation per run
    for i in range(5):
        remove_member(koppel.entra, group_id(GROUP), upn(i))
    run = koppel.sync(connection_id)
    assert run.outcome == "awaiting_approval" and run.pending is not None
    assert sorted(w["user_name"] for w in run.pending["would_deactivate"]) == [upn(i) for i in range(5)]
    assert len(koppel.active()) == 9  # nobody went yet
    connection = koppel.connection(connection_id)
    assert connection.status == "awaiting_approval" and "approve or reject" in connection.last_error
    with pytest.raises(SyncNotAllowed):
        koppel.sync(connection_id)
    _decide(koppel, connection_id, approve)
    assert koppel.connection(connection_id).status == "healthy"
    assert len(koppel.active()) == (4 if approve else 9)
    follow_up = koppel.sync(connection_id)
    if approve:
        assert follow_up.outcome == "succeeded" and follow_up.deactivated == 0
    else:  # the changes are still there in Entra: the next run stops again
        assert follow_up.outcome == "awaiting_approval"


def test_guard_threshold_is_configurable(koppel: Koppel) -> None:
    from tests.graph.conftest import configure

    connection_id = koppel.connected()
    configure(koppel, connection_id, guard_percent=100, guard_max=3)
    koppel.sync(connection_id)
    for i in range(3):
        remove_member(koppel.entra, group_id(GROUP), upn(i))
    assert koppel.sync(connection_id).outcome == "succeeded"
    for i in range(3, 7):
        remove_member(koppel.entra, group_id(GROUP), upn(i))
    assert koppel.sync(connection_id).outcome == "awaiting_approval"


def test_hard_delete_after_n_days(koppel: Koppel) -> None:
    from tests.graph.conftest import configure

    connection_id = koppel.connected()
    configure(koppel, connection_id, hard_delete_after_days=30)
    koppel.sync(connection_id)
    remove_member(koppel.entra, group_id(GROUP), upn(6))
    koppel.sync(connection_id)
    assert koppel.users()[user_id(upn(6))].status == "deactivated"
    koppel.clock.advance(days=31)
    run = koppel.sync(connection_id)
    assert run.mode == "delta" and run.counts["users_deleted"] == 1
    assert user_id(upn(6)) not in koppel.users()

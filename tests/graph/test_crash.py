"""Issue 4 §5: kill -9 in the middle of a first sync; the next run converges, nothing lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from koppel.db.engine import transaction
from koppel.directory.models import DirectoryUser, Membership
from koppel.graph.models import GraphSyncRun
from tests.graph.conftest import Koppel, seed

MEMBERS = 12000


@pytest.fixture
def entra_seed() -> dict[str, Any]:
    return seed(members=MEMBERS)


def _env(koppel: Koppel) -> dict[str, str]:
    s = koppel.settings
    assert s.entra_client_secret is not None
    return {
        **os.environ,
        "KOPPEL_DATA_DIR": str(s.data_dir),
        "KOPPEL_DATABASE_URL": s.database_url,
        "KOPPEL_SECRET_KEY": s.secret,
        "KOPPEL_ENTRA_CLIENT_ID": s.entra_client_id,
        "KOPPEL_ENTRA_CLIENT_SECRET": s.entra_client_secret.get_secret_value(),
        "KOPPEL_ENTRA_AUTHORITY": s.entra_authority,
        "KOPPEL_GRAPH_URL": s.graph_url,
        "KOPPEL_BASE_URL": s.base_url,
    }


def _processed(koppel: Koppel) -> int:
    with transaction(koppel.factory) as session:
        return int(session.scalar(select(func.coalesce(func.max(GraphSyncRun.processed), 0))) or 0)


@pytest.mark.timeout(120)
def test_kill_9_mid_sync_then_the_next_run_converges(koppel: Koppel) -> None:
    connection_id = koppel.connected()
    koppel.entra.fault(kind="latency", endpoint="members", latency_ms=400)  # a slow first sync to kill
    child = subprocess.Popen(
        [sys.executable, "-m", "koppel", "sync", "run", "--connection", connection_id, "--json"],
        env=_env(koppel), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _processed(koppel) == 0:
            assert child.poll() is None, "the sync finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    partial = len(koppel.users())
    assert 0 < partial < MEMBERS + 1

    koppel.entra.clear_faults()
    run = koppel.sync(connection_id)
    assert run.outcome == "succeeded" and run.mode == "full", run.errors
    assert run.created == MEMBERS + 1 - partial  # the rest, none twice
    with transaction(koppel.factory) as session:
        assert session.scalar(select(func.count()).select_from(DirectoryUser)) == MEMBERS + 1
        assert session.scalar(select(func.count()).select_from(Membership)) == MEMBERS + 1
        outcomes = sorted(session.scalars(select(GraphSyncRun.outcome)))
    assert outcomes == ["abandoned", "succeeded"]
    assert koppel.sync(connection_id).mode == "delta"

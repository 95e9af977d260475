"""The periodic ``sso.cleanup`` job: expired codes, login transactions, refresh tokens and sessions go."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from koppel.db.base import utcnow
from koppel.jobs import JobContext
from koppel.jobs.registry import discover
from koppel.sso.models import AuthorizationCode, LoginTransaction, RefreshToken, SsoSession
from tests.simulator.support import PASSWORD, USER_UPN
from tests.sso.conftest import Setup
from tests.sso.flows import sign_in

Db = Callable[[], AbstractContextManager[Session]]
KINDS = {
    "authorization_codes": AuthorizationCode,
    "login_transactions": LoginTransaction,
    "refresh_tokens": RefreshToken,
    "sessions": SsoSession,
}


def counts(db: Db) -> dict[str, int]:
    with db() as session:
        return {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in KINDS.items()}


def test_cleanup_job_removes_only_what_expired(
    koppel: TestClient, sso_app: FastAPI, idp_http: httpx.Client, platform: Setup, db: Db
) -> None:
    for _ in range(2):
        tokens = sign_in(koppel, idp_http, platform.host, USER_UPN, PASSWORD, organization="contoso")
        assert tokens.status_code == 200 and "refresh_token" in tokens.json()
    assert counts(db) == {"authorization_codes": 2, "login_transactions": 2, "refresh_tokens": 2, "sessions": 2}
    cleanup = discover().get("sso.cleanup")
    assert cleanup.every == 600
    started = utcnow()

    def run_at(moment: datetime) -> dict[str, int]:
        state = sso_app.state
        cleanup.func(JobContext(state.settings, state.session_factory, state.secret_box, clock=lambda: moment))
        return counts(db)

    assert run_at(started)["authorization_codes"] == 2  # nothing expired yet
    # Codes (5 min) and login transactions (15 min) expire, then an hour's grace.
    after_codes = run_at(started + timedelta(minutes=80))
    assert after_codes == {"authorization_codes": 0, "login_transactions": 0, "refresh_tokens": 2, "sessions": 2}
    refresh = koppel.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
        auth=(platform.host.client_id, platform.host.client_secret),
    )
    assert refresh.status_code == 200, refresh.text  # what is still valid keeps working
    # Sessions last 12 hours; their refresh tokens expire with them.
    assert run_at(started + timedelta(hours=14)) == dict.fromkeys(KINDS, 0)

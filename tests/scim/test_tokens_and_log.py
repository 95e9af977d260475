"""Tokens (CLI and API), the provisioning log and its retention."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from koppel.cli import app
from koppel.clikit import set_runtime
from koppel.db import migrate
from koppel.db.engine import transaction
from koppel.organizations.service import OrganizationFields, create_organization
from koppel.scim import service
from koppel.scim.models import ScimLogEntry
from tests.api.conftest import make_key
from tests.conftest import Clock
from tests.scim.conftest import USER, Tenant


def test_cli_token_lifecycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KOPPEL_BASE_URL", "https://koppel.example.com")
    set_runtime(None)
    url = f"sqlite:///{tmp_path / 'koppel.db'}"
    migrate.upgrade(url)
    from koppel.clikit import runtime

    with runtime().transaction() as session:
        create_organization(session=session, slug="eightbyeight", fields=OrganizationFields(name="8x8"), now=Clock()())
    runner = CliRunner()
    r = runner.invoke(app, ["scim", "token", "create", "--org", "eightbyeight", "--expires-in", "365d", "--json"])
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["tenant_url"] == "https://koppel.example.com/scim/v2/eightbyeight"
    assert created["token"].startswith("kp_scim_")
    listed = json.loads(runner.invoke(app, ["scim", "token", "list", "--org", "eightbyeight", "--json"]).stdout)
    assert [t["id"] for t in listed] == [created["id"]] and created["token"] not in json.dumps(listed)
    rotated = json.loads(runner.invoke(app, ["scim", "token", "rotate", "--org", "eightbyeight", "--json"]).stdout)
    assert rotated["token"] != created["token"] and rotated["previous"][0]["id"] == created["id"]
    r = runner.invoke(app, ["scim", "token", "revoke", created["id"], "--org", "eightbyeight", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["active"] is False
    r = runner.invoke(app, ["scim", "token", "create", "--org", "nope", "--json"])
    assert r.exit_code == 1 and "no organization" in r.stderr
    r = runner.invoke(app, ["scim", "log", "--org", "eightbyeight", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    set_runtime(None)


def test_revoked_expired_and_rotated_tokens(
    tenant: Tenant, session_factory: sessionmaker[Session], clock: Clock
) -> None:
    assert tenant.get("/Users").status_code == 200
    with transaction(session_factory) as session:
        new, _ = service.rotate_token(
            session=session, org=tenant.slug, token_id=None, grace=timedelta(days=1), now=clock()
        )
    assert tenant.get("/Users").status_code == 200  # the old token still works during the grace period
    fresh = Tenant(tenant.client, tenant.slug, tenant.org_id, new.secret)
    assert fresh.get("/Users").status_code == 200
    clock.advance(days=2)
    assert tenant.get("/Users").status_code == 401
    assert fresh.get("/Users").status_code == 200
    with transaction(session_factory) as session:
        service.revoke_token(session=session, org=tenant.slug, token_id=new.token.id, now=clock())
    assert fresh.get("/Users").status_code == 401


def test_log_records_every_request(
    client: TestClient, tenant: Tenant, session_factory: sessionmaker[Session], clock: Clock
) -> None:
    tenant.get('/Users?filter=userName eq "x"')
    tenant.post("/Users", {"schemas": [USER], "userName": "a@x.com"})
    tenant.post("/Users", {"schemas": [USER], "userName": "A@x.com"})
    tenant.client.get(tenant.base + "/Users", headers={"Authorization": "Bearer wrong"})
    headers = make_key(session_factory, clock)
    log = client.get(f"/api/v1/organizations/{tenant.slug}/scim/log", headers=headers).json()
    assert [e["operation"] for e in log] == ["query Users", "create User", "create User", "query Users"]
    assert [e["status"] for e in log] == [401, 409, 201, 200]
    assert log[1]["scim_type"] == "uniqueness" and "already taken" in log[1]["detail"]
    errors = client.get(f"/api/v1/organizations/{tenant.slug}/scim/log?errors_only=true", headers=headers).json()
    assert len(errors) == 2
    other = make_key(session_factory, clock, org=None)
    assert client.get("/api/v1/organizations/nope/scim/log", headers=other).status_code == 404


def test_log_retention(session_factory: sessionmaker[Session], clock: Clock, tenant: Tenant) -> None:
    with transaction(session_factory) as session:
        service.set_config(session=session, org=tenant.slug, now=clock(), log_retention_days=1, log_max_entries=100)
        for i in range(150):
            entry = service.LogRecord("GET", "query Users", "User", None, 200, detail=str(i))
            service.record(session=session, org_id=tenant.org_id, entry=entry, now=clock())
    clock.advance(hours=1)
    with transaction(session_factory) as session:
        assert service.prune_log(session=session, org_id=tenant.org_id, now=clock()) == 50
        assert session.scalar(select(func.count()).select_from(ScimLogEntry)) == 100
    clock.advance(days=2)
    with transaction(session_factory) as session:
        service.prune_log(session=session, org_id=tenant.org_id, now=clock())
        assert session.scalar(select(func.count()).select_from(ScimLogEntry)) == 0


def test_management_api_tokens(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, session_factory: sessionmaker[Session], clock: Clock
) -> None:
    operator = make_key(session_factory, clock)
    r = client.post(f"/api/v1/organizations/{tenant.slug}/scim/tokens", json={"expires_in_days": 30}, headers=operator)
    assert r.status_code == 201 and r.json()["tenant_url"] == "http://koppel.test/scim/v2/acme"
    assert Tenant(client, tenant.slug, tenant.org_id, r.json()["token"]).get("/Users").status_code == 200
    tokens = client.get(f"/api/v1/organizations/{tenant.slug}/scim/tokens", headers=operator).json()
    assert len(tokens) == 2 and all("token" not in t for t in tokens)
    scoped = make_key(session_factory, clock, org=other_tenant.org_id)
    assert client.get(f"/api/v1/organizations/{tenant.slug}/scim/tokens", headers=scoped).status_code == 403
    assert client.get(f"/api/v1/organizations/{tenant.slug}/scim/log", headers=scoped).status_code == 403
    r = client.delete(f"/api/v1/organizations/{tenant.slug}/scim/tokens/{r.json()['id']}", headers=operator)
    assert r.status_code == 200 and r.json()["revoked_at"]

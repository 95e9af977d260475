"""The CLI and API contract of issue 4: add-entra, consent callback, check, sync run|runs|approve|reject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from koppel.app import create_app
from koppel.cli import app
from koppel.clikit import set_runtime
from koppel.demo_stack import MailCatcher
from koppel.settings import load_settings
from tests.graph.conftest import (
    APP_ID,
    APP_SECRET,
    BASE_URL,
    CUSTOMER,
    CUSTOMER_DOMAIN,
    GROUP,
    Entra,
    consent_in_browser,
    group_id,
    remove_member,
    upn,
)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entra: Entra, mailbox: MailCatcher) -> None:
    for name, value in {
        "KOPPEL_DATA_DIR": str(tmp_path),
        "KOPPEL_ENTRA_CLIENT_ID": APP_ID,
        "KOPPEL_ENTRA_CLIENT_SECRET": APP_SECRET,
        "KOPPEL_ENTRA_AUTHORITY": entra.url,
        "KOPPEL_GRAPH_URL": entra.url,
        "KOPPEL_BASE_URL": BASE_URL,
        "KOPPEL_SMTP_PORT": str(mailbox.port),
    }.items():
        monkeypatch.setenv(name, value)
    set_runtime(None)


def koppel(*args: str, ok: bool = True) -> Any:
    set_runtime(None)
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok and "--json" in args else result


@pytest.mark.usefixtures("cli_env")
def test_seed_000_end_to_end_through_cli_and_api(entra: Entra, mailbox: MailCatcher) -> None:
    koppel("org", "create", "--slug", "ddgc", "--name", "De Digitale Gesprekscyclus", "--json")
    bad = koppel("connection", "add-entra", "--org", "ddgc", "--tenant-id", CUSTOMER, "--group-id", "nope", ok=False)
    assert "group id 'nope' is not a GUID" in bad.output
    added = koppel(
        "connection", "add-entra", "--org", "ddgc", "--tenant-id", CUSTOMER_DOMAIN, "--group-id", group_id(GROUP),
        "--admin-email", "beheer@ddgc.example", "--json",
    )  # fmt: skip
    connection = added["connection"]["id"]
    assert added["connection"]["status"] == "needs_consent" and added["emailed_to"] == "beheer@ddgc.example"
    assert added["consent_url"] in mailbox.messages[0].get_payload(decode=True).decode()

    params = consent_in_browser(entra, added["consent_url"])
    key = koppel("apikey", "create", "--name", "ops", "--json")["key"]
    with TestClient(create_app(load_settings())) as client:
        page = client.get("/graph/consent/callback", params=params)
        assert page.status_code == 200 and "Consent was given" in page.text
        replay = client.get("/graph/consent/callback", params=params)
        assert replay.status_code == 400 and "already used" in replay.text
    assert koppel("connection", "check", "--connection", connection, "--json")["status"] == "healthy"

    first = koppel("sync", "run", "--connection", connection, "--json")
    assert first["outcome"] == "succeeded" and first["mode"] == "full" and first["created"] == 9
    for i in range(5):
        remove_member(entra, group_id(GROUP), upn(i))
    parked = koppel("sync", "run", "--connection", connection, "--json")
    assert parked["outcome"] == "awaiting_approval" and len(parked["would_deactivate"]) == 5
    runs = koppel("sync", "runs", "--connection", connection, "--json")
    assert [r["outcome"] for r in runs] == ["awaiting_approval", "succeeded"]
    assert all(r["graph_requests"] > 0 for r in runs)

    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(load_settings())) as client:
        base = f"/api/v1/organizations/ddgc/connections/{connection}"
        listed = client.get(f"{base}/sync-runs", headers=auth).json()
        assert listed[0]["id"] == parked["id"]
        refused = client.post(f"{base}/sync-runs", headers=auth)
        assert refused.status_code == 409 and "approve or reject" in refused.json()["detail"]
        approved = client.post(f"{base}/sync-runs/{parked['id']}/approve", headers=auth)
        assert approved.status_code == 200 and approved.json()["outcome"] == "approved"
        assert approved.json()["deactivated"] == 5
        again = client.post(f"{base}/sync-runs/{parked['id']}/reject", headers=auth)
        assert again.status_code == 409
    assert koppel("connection", "show", "--connection", connection, "--json")["status"] == "healthy"
    assert koppel("sync", "approve", "--connection", connection, ok=False).exit_code == 1


@pytest.mark.usefixtures("cli_env")
def test_api_add_entra_names_the_wrong_field() -> None:
    koppel("org", "create", "--slug", "ddgc", "--name", "DDGC", "--json")
    key = koppel("apikey", "create", "--name", "ops", "--json")["key"]
    with TestClient(create_app(load_settings())) as client:
        response = client.post(
            "/api/v1/organizations/ddgc/connections/entra",
            json={"tenant_id": "3da4a34e-223c", "group_ids": [group_id(GROUP)]},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 422 and response.json()["field"] == "tenant_id"

"""The CLI contract: `apikey create`, `org create|list`, `webhook add` with --json, and readable errors."""

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
from koppel.settings import load_settings


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    set_runtime(None)
    monkeypatch.setenv("KOPPEL_DATA_DIR", str(tmp_path))
    return tmp_path


def koppel(*args: str, ok: bool = True) -> Any:
    set_runtime(None)
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok and "--json" in args else result


def test_create_org_and_key_then_use_the_key_on_the_api() -> None:
    org = koppel("org", "create", "--slug", "contoso", "--name", "Contoso", "--domain", "contoso.com", "--json")
    assert org["slug"] == "contoso" and org["domains"] == ["contoso.com"]
    assert [o["slug"] for o in koppel("org", "list", "--json")] == ["contoso"]
    key = koppel("apikey", "create", "--name", "host app", "--json")
    assert key["key"].startswith("kpl_") and key["prefix"] == key["key"][:12]
    listed = koppel("apikey", "list", "--json")
    assert [k["name"] for k in listed] == ["host app"] and "key" not in listed[0]

    with TestClient(create_app(load_settings())) as client:
        response = client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {key['key']}"})
        assert [o["slug"] for o in response.json()] == ["contoso"]
        koppel("apikey", "revoke", key["id"], "--json")
        assert client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {key['key']}"}).status_code == 401


def test_webhook_add_prints_the_secret_once() -> None:
    koppel("org", "create", "--slug", "contoso", "--name", "Contoso", "--json")
    hook = koppel("webhook", "add", "https://app.example/hooks", "--org", "contoso", "--types", "user.*", "--json")
    assert hook["secret"] and hook["event_types"] == ["user.*"]
    assert "secret" not in koppel("webhook", "list", "--json")[0]


def test_errors_are_one_readable_line() -> None:
    koppel("org", "create", "--slug", "contoso", "--name", "Contoso")
    result = koppel("org", "create", "--slug", "contoso", "--name", "Again", ok=False)
    assert result.exit_code == 1 and "already exists" in result.output and "Traceback" not in result.output
    bad = koppel("org", "create", "--slug", "Bad Slug", "--name", "X", ok=False)
    assert "lowercase letters" in bad.output


def test_connection_list_show_remove() -> None:
    from koppel.clikit import runtime
    from koppel.organizations.connections import create_connection

    koppel("org", "create", "--slug", "contoso", "--name", "Contoso", "--json")
    rt = runtime()
    with rt.transaction() as session:
        created = create_connection(
            session=session,
            secret_box=rt.secret_box,
            org="contoso",
            kind="oidc",
            name="Google",
            secrets={"client_secret": "x/y+z"},
            now=rt.now(),
        )
        connection_id = created.id
    listed = koppel("connection", "list", "--org", "contoso", "--json")
    assert [(c["name"], c["secrets_set"]) for c in listed] == [("Google", ["client_secret"])]
    assert "x/y+z" not in json.dumps(listed)
    assert koppel("connection", "show", "--connection", connection_id, "--json")["kind"] == "oidc"
    koppel("connection", "remove", "--connection", connection_id, "--json")
    assert koppel("connection", "list", "--org", "contoso", "--json") == []
    missing = koppel("connection", "show", "--connection", connection_id, ok=False)
    assert "no connection" in missing.output

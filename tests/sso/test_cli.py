"""`koppel client create` and `koppel connection add-entra-app|add-oidc` with --json (issue 5 §1, §3, §4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from koppel.cli import app
from koppel.clikit import runtime, set_runtime
from koppel.organizations.models import Connection
from koppel.security.tokens import hash_token
from koppel.sso.models import SsoClient

TENANT = "8f6c2a3e-0d51-4d8e-9a3b-1c2d3e4f5a6b"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    set_runtime(None)
    monkeypatch.setenv("KOPPEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KOPPEL_BASE_URL", "https://koppel.example")
    return tmp_path


def koppel(*args: str, ok: bool = True) -> Any:
    set_runtime(None)
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok and "--json" in args else result


def test_client_secret_is_shown_once_and_stored_hashed() -> None:
    out = koppel("client", "create", "--name", "Host", "--redirect-uri", "https://app.example/cb", "--json")
    assert out["client_secret"] and out["discovery_url"] == "https://koppel.example/.well-known/openid-configuration"
    listed = koppel("client", "list", "--json")
    assert [c["client_id"] for c in listed] == [out["client_id"]] and "client_secret" not in listed[0]
    with runtime().transaction() as session:
        row = session.scalars(select(SsoClient)).one()
        assert row.secret_hash == hash_token(out["client_secret"]) and out["client_secret"] not in row.secret_hash
    bad = koppel("client", "create", "--name", "X", "--redirect-uri", "https://app.example/cb#frag", ok=False)
    assert "fragment" in bad.output


def test_client_create_with_es256() -> None:
    out = koppel("client", "create", "--name", "EC", "--redirect-uri", "https://app.example/cb",
                 "--id-token-alg", "ES256", "--json")  # fmt: skip
    assert out["id_token_signed_response_alg"] == "ES256"
    assert koppel("client", "list", "--json")[0]["id_token_signed_response_alg"] == "ES256"
    bad = koppel("client", "create", "--name", "X", "--redirect-uri", "https://app.example/cb", "--id-token-alg",
                 "HS256", ok=False)  # fmt: skip
    assert "RS256 or ES256" in bad.output
    rotated = koppel("client", "rotate-signing-key", "--json")
    assert set(rotated["kids"]) == {"RS256", "ES256"} and len(rotated["retired"]) == 2  # both made at create


@pytest.mark.parametrize(
    "url", [f"https://login.microsoftonline.com/{TENANT}/", "https://login.microsoftonline.com/klant.onmicrosoft.com/"]
)
def test_add_entra_app_takes_either_url_form_and_any_secret(url: str) -> None:
    koppel("org", "create", "--slug", "klant", "--name", "Klant", "--json")
    secret = "a/b+c==/+/x~y"
    out = koppel(
        "connection", "add-entra-app", "--org", "klant", "--identity-provider", url, "--client-id", "app-1",
        "--client-secret", secret, "--domain-hint", "klant.nl", "--json",
    )  # fmt: skip
    assert out["redirect_uri"] == f"https://koppel.example/sso/callback/{out['id']}"
    assert out["settings"]["mode"] == "customer_app" and out["settings"]["domain_hint"] == "klant.nl"
    assert out["settings"].get("tenant_id") == (TENANT if TENANT in url else None)
    with runtime().transaction() as session:
        row = session.get(Connection, out["id"])
        assert row is not None and runtime().secret_box.decrypt_json(row.secrets) == {"client_secret": secret}


def test_add_entra_app_refuses_a_multi_tenant_authority() -> None:
    koppel("org", "create", "--slug", "klant", "--name", "Klant", "--json")
    result = koppel(
        "connection", "add-entra-app", "--org", "klant", "--identity-provider",
        "https://login.microsoftonline.com/common/", "--client-id", "a", "--client-secret", "s", ok=False,
    )  # fmt: skip
    assert "must name" in result.output and "Traceback" not in result.output


def test_add_oidc_with_claim_mapping() -> None:
    koppel("org", "create", "--slug", "klant", "--name", "Klant", "--json")
    out = koppel(
        "connection", "add-oidc", "--org", "klant", "--discovery-url",
        "https://accounts.google.com/.well-known/openid-configuration", "--client-id", "g", "--client-secret", "s",
        "--claim", "email=upn", "--json",
    )  # fmt: skip
    assert out["kind"] == "oidc" and out["settings"]["claim_mapping"] == {"email": "upn"}
    assert out["redirect_uri"].endswith(f"/sso/callback/{out['id']}")
    bad = koppel(
        "connection", "add-oidc", "--org", "klant", "--discovery-url", "https://idp.example/", "--client-id", "g",
        "--client-secret", "s", "--claim", "colour=x", ok=False,
    )  # fmt: skip
    assert "openid-configuration" in bad.output

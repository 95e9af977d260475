"""``simulator generate``, ``serve --json`` (a real subprocess over HTTPS) and the admin CLI round trip."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from entra_simulator.cli import app as cli_app

CLI = [sys.executable, "-m", "entra_simulator"]
runner = CliRunner()


def generate(*args: str) -> str:
    done = subprocess.run([*CLI, "generate", *args], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_generate_is_deterministic_and_realistic() -> None:
    text = generate("--users", "60", "--groups", "25", "--guests", "4", "--nested", "--seed-value", "7")
    assert text == generate("--users", "60", "--groups", "25", "--guests", "4", "--nested", "--seed-value", "7")
    assert text != generate("--users", "60", "--groups", "25", "--guests", "4", "--nested", "--seed-value", "8")
    tenant = yaml.safe_load(text)["tenants"][0]
    members = [u for u in tenant["users"] if u.get("userType") != "Guest"]
    guests = [u for u in tenant["users"] if u.get("userType") == "Guest"]
    assert len(members) == 60 and len(guests) == 4 and len(tenant["groups"]) == 25
    assert all("#EXT#@" in g["userPrincipalName"] for g in guests)
    assert len({u["userPrincipalName"].lower() for u in tenant["users"]}) == 64
    assert all(u["department"] and u["jobTitle"] and u["mobilePhone"].startswith("+31 6") for u in members[1:])
    ids = {g["id"]: i for i, g in enumerate(tenant["groups"])}
    nested = [(i, ids[m]) for i, g in enumerate(tenant["groups"]) for m in g["members"] if m in ids]
    assert nested and all(child > parent for parent, child in nested)  # no cycles
    (app,) = tenant["applications"]
    assert app["graphPermissions"]["application"] == ["User.Read.All", "GroupMember.Read.All"]
    assert app["adminConsent"] is True and app["redirectUris"] == ["http://localhost/callback"]


def test_generate_options_for_consent_and_redirect_uris() -> None:
    text = generate(
        "--users", "3", "--groups", "1", "--no-consent", "--format", "json",
        "--redirect-uri", "https://app.example/cb", "--redirect-uri", "http://localhost/cb",
    )  # fmt: skip
    (app,) = json.loads(text)["tenants"][0]["applications"]
    assert app["adminConsent"] is False
    assert app["redirectUris"] == ["https://app.example/cb", "http://localhost/cb"]


@pytest.mark.slow
def test_generate_and_load_100k_users_takes_seconds(tmp_path: Path) -> None:
    from entra_simulator.seed import load, read_seed

    started = time.perf_counter()
    path = tmp_path / "big.json"
    path.write_text(generate("--users", "100000", "--groups", "1000", "--nested", "--format", "json"))
    generated = time.perf_counter() - started
    started = time.perf_counter()
    directory = load(read_seed(path))
    loaded = time.perf_counter() - started
    tenant = next(iter(directory.tenants.values()))
    assert len(tenant.users) == 100_000 and len(tenant.groups) == 1000
    print(f"generate 100k users + 1k groups: {generated:.1f} s; load: {loaded:.1f} s")
    assert generated < 20 and loaded < 20


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    seed = tmp_path_factory.mktemp("seed") / "tenant.yaml"
    seed.write_text(generate("--users", "30", "--groups", "8", "--no-consent"))
    process = subprocess.Popen(
        [*CLI, "serve", "--seed", str(seed), "--port", "0", "--tls", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line, process.stderr.read() if process.stderr else "no output"
        yield json.loads(line)
    finally:
        process.terminate()
        process.wait(10)


def _http(info: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=info["url"], verify=info["ca_bundle"], timeout=30)


def _token(info: dict[str, Any]) -> httpx.Response:
    tenant = info["tenants"][0]
    app = tenant["apps"][0]
    with _http(info) as http:
        return http.post(
            f"/{tenant['id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "scope": "https://graph.microsoft.com/.default",
            },
        )


def _roles(info: dict[str, Any]) -> list[str]:
    payload = _token(info).json()["access_token"].split(".")[1]
    import base64

    return list(json.loads(base64.urlsafe_b64decode(payload + "==")).get("roles", []))


def admin(info: dict[str, Any], *args: str) -> Any:
    result = runner.invoke(cli_app, ["admin", "--url", info["url"], "--ca-bundle", info["ca_bundle"], *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_serve_json_line(served: dict[str, Any]) -> None:
    assert served["url"].startswith("https://127.0.0.1:")
    assert Path(served["ca_bundle"]).is_file()
    (tenant,) = served["tenants"]
    assert tenant["domain"] == "contoso-nl.onmicrosoft.com"
    assert tenant["apps"][0]["client_id"] and tenant["apps"][0]["client_secret"]
    assert {"id", "displayName", "memberCount"} <= set(tenant["groups"][0])
    assert tenant["groups"][0]["memberCount"] == 30
    assert 1 <= len(tenant["users"]) <= 5 and tenant["users"][0]["password"]


def test_admin_cli_round_trip(served: dict[str, Any]) -> None:
    tenant = served["tenants"][0]
    app_id = tenant["apps"][0]["client_id"]
    assert _roles(served) == []  # generated with --no-consent
    assert sorted(admin(served, "consent", "grant", app_id)["appRoles"]) == ["GroupMember.Read.All", "User.Read.All"]
    assert sorted(_roles(served)) == ["GroupMember.Read.All", "User.Read.All"]
    admin(served, "consent", "revoke", app_id)
    assert _roles(served) == []

    user = admin(served, "user", "add", "nieuw@contoso.nl", "--given-name", "Nieuw", "--password", "Pw-123456!")
    assert user["displayName"] == "Nieuw" and user["userPrincipalName"] == "nieuw@contoso.nl"
    updated = admin(served, "user", "update", "nieuw@contoso.nl", "--set", "jobTitle=Stagiair")
    assert updated["jobTitle"] == "Stagiair"
    group = tenant["groups"][1]
    added = admin(served, "member", "add", group["id"], "nieuw@contoso.nl")
    assert added["changed"] and added["memberCount"] == group["memberCount"] + 1
    removed = admin(served, "member", "remove", group["displayName"], user["id"])
    assert removed["changed"] and removed["memberCount"] == group["memberCount"]
    assert admin(served, "user", "disable", "nieuw@contoso.nl")["accountEnabled"] is False
    assert admin(served, "user", "delete", "nieuw@contoso.nl")["deleted"] == user["id"]
    assert admin(served, "group", "delete", group["id"])["deleted"] == group["id"]
    with _http(served) as http:
        names = [g["displayName"] for g in http.get(f"/_simulator/tenants/{tenant['id']}").json()["groups"]]
    assert group["displayName"] not in names

    uris = admin(served, "app", "add-redirect-uri", app_id, "https://app.example/signin-oidc")["redirectUris"]
    assert "https://app.example/signin-oidc" in uris

    with _http(served) as http:
        before = http.get("/common/discovery/v2.0/keys").json()["keys"][0]["kid"]
        rotated = admin(served, "keys", "rotate")["signing_kid"]
        assert http.get("/common/discovery/v2.0/keys").json()["keys"][0]["kid"] == rotated != before

    fault = admin(served, "fault", "set", "throttle", "--endpoint", "token", "--retry-after", "7", "--count", "1")
    assert fault["status"] == 429
    throttled = _token(served)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "7"
    assert _token(served).status_code == 200  # count exhausted
    admin(served, "fault", "set", "error", "--endpoint", "token")
    assert _token(served).status_code == 503
    assert admin(served, "fault", "clear")["cleared"] == 2
    assert _token(served).status_code == 200

    admin(served, "secret", "expire", app_id)
    assert _token(served).json()["error_codes"] == [7000222]


def test_admin_cli_errors_are_one_readable_line(served: dict[str, Any]) -> None:
    result = runner.invoke(
        cli_app, ["admin", "--url", served["url"], "--ca-bundle", served["ca_bundle"], "user", "delete", "nobody@x"]
    )
    assert result.exit_code == 1
    assert "No user 'nobody@x'" in result.output


def test_rotate_keys_command(served: dict[str, Any]) -> None:
    result = runner.invoke(
        cli_app, ["rotate-keys", "--url", served["url"], "--ca-bundle", served["ca_bundle"], "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["signing_kid"]


def test_koppel_mounts_the_simulator_commands() -> None:
    from koppel.cli import app as koppel_app

    result = runner.invoke(koppel_app, ["simulator", "generate", "--users", "2", "--groups", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["tenants"][0]["users"]) == 2


def test_serve_explains_a_missing_seed_file(tmp_path: Path) -> None:
    result = runner.invoke(cli_app, ["serve", "--seed", str(tmp_path / "missing.yaml"), "--port", "0"])
    assert result.exit_code == 1
    assert "not found" in result.output and "simulator generate" in result.output

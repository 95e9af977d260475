"""`koppel config show` prints effective values with secrets masked; the secret key is generated once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from koppel.cli import app
from koppel.clikit import set_runtime


@pytest.fixture(autouse=True)
def fresh_runtime() -> None:
    set_runtime(None)


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KOPPEL_ENTRA_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("KOPPEL_DATABASE_URL", "postgresql://koppel:pa55word@db.internal/koppel")
    result = CliRunner().invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["entra_client_secret"] == "********"
    assert shown["database_url"] == "postgresql://koppel:********@db.internal/koppel"
    assert "s3cr3t-value" not in result.stdout and "pa55word" not in result.stdout
    assert shown["data_dir"] == str(tmp_path)


def test_secret_key_generated_once_into_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_DATA_DIR", str(tmp_path))
    CliRunner().invoke(app, ["config", "show", "--json"])
    first = (tmp_path / "secret_key").read_text()
    set_runtime(None)
    CliRunner().invoke(app, ["config", "show", "--json"])
    assert (tmp_path / "secret_key").read_text() == first and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_bad_setting_is_a_readable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KOPPEL_BASE_URL", "koppel.example.com")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code != 0
    assert "is not an http(s) URL" in str(result.exception) + result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["db", "upgrade", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["revision"] and (tmp_path / "koppel.db").exists()

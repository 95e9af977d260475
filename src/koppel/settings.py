"""The one Settings object (``KOPPEL_*`` environment variables and ``.env``).

Built once in ``cli.py`` (or by a test fixture) and passed down; nothing deeper reads
``os.environ``. Secrets are ``SecretStr`` so they never print by accident.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    """Effective configuration of one koppel process."""

    model_config = SettingsConfigDict(env_prefix="KOPPEL_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("koppel")),
        description="Where koppel keeps its SQLite database and generated secret key.",
    )
    database_url: str = Field(default="", description="SQLAlchemy URL; default an SQLite file in data_dir.")
    base_url: str = Field(default="http://127.0.0.1:8000", description="Public URL of this koppel.")
    secret_key: SecretStr | None = Field(default=None, description="Key for encryption at rest and signing.")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "koppel@localhost"
    job_backend: Literal["inprocess", "procrastinate"] = "inprocess"
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    entra_client_id: str = ""
    entra_client_secret: SecretStr | None = None
    entra_client_certificate: str = Field(default="", description="Path to a PEM with key and certificate.")
    entra_authority: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    webhook_timeout_seconds: float = 10.0

    @field_validator("base_url", "entra_authority", "graph_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL; give it as https://host[:port]")
        return value.rstrip("/")

    def resolved(self) -> Settings:
        """Fill in the defaults that depend on the data directory, creating it if needed."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        updates: dict[str, Any] = {}
        if not self.database_url:
            updates["database_url"] = f"sqlite:///{self.data_dir / 'koppel.db'}"
        if self.secret_key is None:
            updates["secret_key"] = SecretStr(_generated_secret_key(self.data_dir))
        return self.model_copy(update=updates) if updates else self

    @property
    def secret(self) -> str:
        if self.secret_key is None:
            raise RuntimeError("Settings.resolved() was not called: no secret key")
        return self.secret_key.get_secret_value()

    def masked(self) -> dict[str, Any]:
        """The effective values with secrets masked, as `koppel config show` prints them."""
        out: dict[str, Any] = {}
        for name, value in self:
            if isinstance(value, SecretStr):
                out[name] = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        out["database_url"] = _mask_url_password(out["database_url"])
        return out


def _generated_secret_key(data_dir: Path) -> str:
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    log.warning("KOPPEL_SECRET_KEY is not set: generated one into %s; set it in production", path)
    return key


def _mask_url_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:********@{host}"


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides).resolved()

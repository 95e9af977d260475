"""HTTP client for the simulator's admin API (``/_simulator``), used by ``simulator admin`` and ``rotate-keys``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx


class AdminError(Exception):
    """The admin API refused, or the simulator could not be reached; the message says what to do."""


class AdminClient:
    def __init__(self, url: str, ca_bundle: Path | None = None, timeout: float = 30) -> None:
        self.base = url.rstrip("/") + "/_simulator"
        bundle = ca_bundle or (Path(os.environ["SSL_CERT_FILE"]) if os.environ.get("SSL_CERT_FILE") else None)
        self.verify: Any = str(bundle) if bundle else True
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        try:
            with httpx.Client(verify=self.verify, timeout=self.timeout) as client:
                response = client.request(method, self.base + path, json=body, params=params)
        except httpx.ConnectError as exc:
            hint = " (is the CA trusted? pass --ca-bundle or set SSL_CERT_FILE)" if "CERTIFICATE" in str(exc) else ""
            raise AdminError(f"cannot reach the simulator at {self.base}: {exc}{hint}") from exc
        except httpx.HTTPError as exc:
            raise AdminError(f"request to {self.base}{path} failed: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise AdminError(f"{method} {path}: HTTP {response.status_code}: {detail}")
        return response.json()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    def tenant(self, given: str | None) -> str:
        """The tenant to act on: the one given, or the only one the simulator serves."""
        if given:
            return given
        tenants = self.get("/tenants")
        if len(tenants) != 1:
            domains = ", ".join(t["domain"] for t in tenants)
            raise AdminError(f"the simulator serves {len(tenants)} tenants ({domains}); choose one with --tenant")
        return str(tenants[0]["id"])

"""Health, readiness and metrics endpoints; JSON logs."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from koppel.db import migrate
from koppel.ops.logging import configure


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_when_schema_current(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_readyz_says_to_upgrade_when_schema_is_behind(client: TestClient, database_url: str) -> None:
    migrate.downgrade(database_url, "base")
    try:
        response = client.get("/readyz")
    finally:
        migrate.upgrade(database_url)
    assert response.status_code == 503
    assert "koppel db upgrade" in response.json()["detail"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'koppel_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body


def test_json_log_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure("json", "INFO")
    try:
        logging.getLogger("koppel.test").info("sync finished", extra={"connection_id": "c1"})
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        configure("text", "WARNING")
    entry = json.loads(line)
    assert entry["message"] == "sync finished" and entry["connection_id"] == "c1" and entry["level"] == "info"

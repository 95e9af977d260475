"""A changed sign-in connection is used by the next authorization request at once: its login
settings are cached per process, keyed by the row's version (``updated_at``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from koppel.organizations.models import Connection
from tests.sso.conftest import Setup

Db = Callable[[], AbstractContextManager[Session]]


def authorize(koppel: TestClient, platform: Setup) -> dict[str, list[str]]:
    """The query of the IdP URL that koppel sends the browser to."""
    response = koppel.get(platform.host.authorize_url(organization="contoso"), follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    return parse_qs(urlsplit(response.headers["location"]).query)


def test_the_next_sign_in_uses_the_changed_connection(koppel: TestClient, platform: Setup, db: Db) -> None:
    assert "domain_hint" not in authorize(koppel, platform)
    with db() as session:
        connection = session.get_one(Connection, platform.connection_id)
        connection.settings = {**connection.settings, "domain_hint": "contoso.nl"}
    assert authorize(koppel, platform)["domain_hint"] == ["contoso.nl"]

    with db() as session:
        session.get_one(Connection, platform.connection_id).status = "paused"
    paused = koppel.get(platform.host.authorize_url(organization="contoso"), follow_redirects=False)
    assert paused.status_code == 404 and "no sign-in connection" in paused.text

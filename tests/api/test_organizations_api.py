"""Organizations, domains and connections through /api/v1: what an admin does, and bad input."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from koppel.events.models import Event
from koppel.organizations.models import Connection, Organization

PROBLEM = "application/problem+json"


def create_org(api: TestClient, slug: str = "contoso", **extra: object) -> dict[str, object]:
    response = api.post("/api/v1/organizations", json={"slug": slug, "name": slug.title(), **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_read_update_organization_with_domains(api: TestClient) -> None:
    org = create_org(api, domains=["Contoso.com", "@contoso.nl"], privacy_statement_url="https://contoso.com/privacy")
    assert org["domains"] == ["contoso.com", "contoso.nl"]
    assert api.get("/api/v1/organizations/contoso").json()["id"] == org["id"]
    assert api.get(f"/api/v1/organizations/{org['id']}").json()["slug"] == "contoso"

    changed = api.patch("/api/v1/organizations/contoso", json={"terms_of_use_text": "Be nice."}).json()
    assert changed["terms_version"] == 2 and changed["name"] == "Contoso"
    assert api.post("/api/v1/organizations/contoso/domains", json={"domain": "contoso.de"}).status_code == 201
    assert api.delete("/api/v1/organizations/contoso/domains/contoso.nl").status_code == 204
    assert api.get("/api/v1/organizations/contoso").json()["domains"] == ["contoso.com", "contoso.de"]


def test_bad_input_is_rejected_with_a_precise_message(api: TestClient, session: Session) -> None:
    for slug in ("Contoso", "-x", "a_b", "", "x" * 64):
        response = api.post("/api/v1/organizations", json={"slug": slug, "name": "X"})
        assert response.status_code == 422, slug
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["field"] == "slug", response.json()
    response = api.post(
        "/api/v1/organizations", json={"slug": "ok", "name": "Ok", "domains": ["contoso.com", "not a domain"]}
    )
    assert response.status_code == 422 and "'not a domain' is not an e-mail domain" in response.json()["detail"]
    response = api.post("/api/v1/organizations", json={"slug": "ok", "name": "Ok", "privacy_statement_url": "ftp://x"})
    assert response.status_code == 422 and response.json()["field"] == "privacy_statement_url"
    # A failing request leaves nothing half-written: no organization, no domain, no event.
    assert session.scalars(select(Organization)).all() == []
    assert session.scalars(select(Event)).all() == []


def test_duplicates_conflict_and_unknown_ids_are_404(api: TestClient) -> None:
    create_org(api, domains=["contoso.com"])
    duplicate = api.post("/api/v1/organizations", json={"slug": "contoso", "name": "Again"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]
    taken = api.post("/api/v1/organizations", json={"slug": "other", "name": "O", "domains": ["contoso.com"]})
    assert taken.status_code == 409 and "another organization" in taken.json()["detail"]
    assert api.get("/api/v1/organizations/other").status_code == 404
    missing = api.get("/api/v1/organizations/contoso/connections/does-not-exist")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_connection_secrets_are_write_only_and_encrypted(
    api: TestClient, session_factory: sessionmaker[Session]
) -> None:
    create_org(api)
    body = {"kind": "oidc", "name": "Google", "settings": {"client_id": "abc"}, "secrets": {"client_secret": "s3cr/t+"}}
    created = api.post("/api/v1/organizations/contoso/connections", json=body)
    assert created.status_code == 201
    out = created.json()
    assert "s3cr/t+" not in created.text and out["secrets_set"] == ["client_secret"] and out["status"] == "healthy"
    with session_factory() as session:
        stored = session.get(Connection, out["id"])
        assert stored is not None and stored.secrets and "s3cr" not in stored.secrets

    listed = api.get("/api/v1/organizations/contoso/connections")
    assert [c["name"] for c in listed.json()] == ["Google"] and "s3cr" not in listed.text
    patched = api.patch(
        f"/api/v1/organizations/contoso/connections/{out['id']}",
        json={"settings": {"scopes": ["openid"]}, "secrets": {"client_secret": None, "other": "x"}},
    ).json()
    assert patched["settings"] == {"client_id": "abc", "scopes": ["openid"]} and patched["secrets_set"] == ["other"]
    entra = api.post("/api/v1/organizations/contoso/connections", json={"kind": "entra", "name": "Entra"}).json()
    assert entra["status"] == "needs_consent"
    again = api.post("/api/v1/organizations/contoso/connections", json={"kind": "entra", "name": "Entra"})
    assert again.status_code == 409
    assert api.post("/api/v1/organizations/contoso/connections", json={"kind": "ldap", "name": "x"}).status_code == 422
    assert api.delete(f"/api/v1/organizations/contoso/connections/{out['id']}").status_code == 204
    assert api.get(f"/api/v1/organizations/contoso/connections/{out['id']}").status_code == 404


def test_an_organization_key_reaches_only_its_organization(
    api: TestClient, client: TestClient, org_key: Callable[[str], dict[str, str]]
) -> None:
    create_org(api, "contoso")
    fabrikam = create_org(api, "fabrikam")
    connection = api.post("/api/v1/organizations/fabrikam/connections", json={"kind": "scim", "name": "S"}).json()
    key = org_key("contoso")
    assert client.get("/api/v1/organizations/contoso", headers=key).status_code == 200
    assert [o["slug"] for o in client.get("/api/v1/organizations", headers=key).json()] == ["contoso"]
    for method, path in [
        ("GET", "/api/v1/organizations/fabrikam"),
        ("GET", f"/api/v1/organizations/{fabrikam['id']}/users"),
        ("GET", "/api/v1/organizations/fabrikam/connections"),
        ("PATCH", f"/api/v1/organizations/fabrikam/connections/{connection['id']}"),
        ("DELETE", f"/api/v1/organizations/fabrikam/connections/{connection['id']}"),
        ("GET", "/api/v1/organizations/fabrikam/role-mappings"),
        ("GET", "/api/v1/events?org=fabrikam"),
    ]:
        response = client.request(method, path, headers=key, json={} if method == "PATCH" else None)
        assert response.status_code == 403, (method, path)
    assert client.post("/api/v1/organizations", headers=key, json={"slug": "new", "name": "N"}).status_code == 403


def test_requests_without_a_valid_key_are_refused(client: TestClient) -> None:
    response = client.get("/api/v1/organizations")
    assert response.status_code == 401 and "koppel apikey create" in response.json()["detail"]
    wrong = client.get("/api/v1/organizations", headers={"Authorization": "Bearer kpl_nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"


def test_nul_bytes_and_huge_numbers_are_bad_input_not_server_errors(api: TestClient) -> None:
    create_org(api)
    # SQLite stores NUL, PostgreSQL refuses it: either way a clear client error, never a 500.
    assert api.get("/api/v1/organizations/con%00toso").status_code in (404, 422)
    response = api.post("/api/v1/organizations", json={"slug": "ok", "name": "A\x00B"})
    assert response.status_code == 422 and response.json()["field"] == "name"
    assert api.get("/api/v1/organizations/contoso/users", params={"q": "a\x00"}).status_code in (200, 422)
    assert api.get("/api/v1/events", params={"after": 2**64}).status_code == 422

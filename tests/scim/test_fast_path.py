"""The Tenant URL served by ``ScimApp`` in front of FastAPI: same answers, counted in the metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from koppel.db.engine import statement_autocommit
from koppel.scim import service
from tests.scim.conftest import USER, Tenant


def test_scim_requests_are_counted_under_the_route_template(tenant: Tenant, client: TestClient) -> None:
    tenant.create_user("ann@contoso.com")
    assert tenant.get('/Users?filter=userName eq "nobody@contoso.com"').status_code == 200
    assert tenant.get("/Users/not-there").status_code == 404
    body = client.get("/metrics").text
    route = 'route="/scim/v2/{org}/{rest:path}"'
    assert f'koppel_http_requests_total{{method="POST",{route},status="201"}} 1.0' in body
    assert f'koppel_http_requests_total{{method="GET",{route},status="200"}} 1.0' in body
    assert f'koppel_http_requests_total{{method="GET",{route},status="404"}} 1.0' in body
    assert f'koppel_http_request_seconds_count{{method="GET",{route}}} 2.0' in body


def test_answers_have_scim_headers(tenant: Tenant) -> None:
    r = tenant.post("/Users", {"schemas": [USER], "userName": "bob@contoso.com"})
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/scim+json"
    assert r.headers["content-length"] == str(len(r.content))
    assert r.headers["location"].endswith(f"/Users/{r.json()['id']}")
    r = tenant.delete(f"/Users/{r.json()['id']}")
    assert r.status_code == 204 and r.content == b"" and "content-length" not in r.headers


def test_query_parameters_and_percent_encoded_paths(tenant: Tenant) -> None:
    user = tenant.create_user("cy@contoso.com")
    r = tenant.get("/Users?FILTER=userName%20eq%20%22CY%40contoso.com%22&aadOptscim062020&attributes=userName")
    assert r.status_code == 200 and r.json()["totalResults"] == 1
    assert set(r.json()["Resources"][0]) == {"schemas", "id", "userName"}
    assert tenant.get(f"//Users/{user['id']}/").json()["id"] == user["id"]


def test_oversized_body_is_refused_before_reading_it(tenant: Tenant) -> None:
    headers = {**tenant.headers(), "Content-Length": str(10**9)}
    r = tenant.client.post(tenant.base + "/Users", content=b"{}", headers=headers)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_other_paths_and_methods_still_reach_fastapi(tenant: Tenant, client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = tenant.client.request("OPTIONS", tenant.base + "/Users", headers=tenant.headers())
    assert r.status_code == 405  # FastAPI's answer: the catch-all route allows GET/POST/PUT/PATCH/DELETE
    r = tenant.client.get(tenant.base, headers=tenant.headers(), follow_redirects=False)
    assert r.status_code in (307, 404)  # no '/' after the organization: the router decides, as before


def test_read_log_entry_skips_only_its_own_flush_wait(tenant: Tenant, session_factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    entry = service.LogRecord("GET", "query Users", "User", None, 200)
    with session_factory() as session, session.begin():
        statement_autocommit(session)
        service.record(session=session, org_id=tenant.org_id, entry=entry, now=now, wait_for_disk=False)
        if session.get_bind().dialect.name == "postgresql":  # transaction-local: the connection is back to 'on'
            assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    with session_factory() as session:
        logged = service.read_log(session=session, org=tenant.org_id, limit=5)
    assert [(e.method, e.operation, e.status) for e in logged][:1] == [("GET", "query Users", 200)]

"""A token of one organization never reads or writes another's resources, whatever the verb."""

from __future__ import annotations

import pytest

from tests.scim.conftest import GROUP, PATCH, USER, Tenant


@pytest.fixture
def theirs(other_tenant: Tenant) -> tuple[str, str]:
    user = other_tenant.create_user("secret@globex.com")["id"]
    group = other_tenant.create_group("Globex Admins", members=[{"value": user}])["id"]
    return user, group


def test_other_orgs_ids_are_404_for_every_verb(tenant: Tenant, other_tenant: Tenant, theirs: tuple[str, str]) -> None:
    user, group = theirs
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "pwned"}]}
    for kind, rid in (("Users", user), ("Groups", group)):
        assert tenant.get(f"/{kind}/{rid}").status_code == 404
        assert tenant.request("PATCH", f"/{kind}/{rid}", patch).status_code == 404
        body = {"schemas": [USER], "userName": "x@y"} if kind == "Users" else {"schemas": [GROUP], "displayName": "x"}
        assert tenant.request("PUT", f"/{kind}/{rid}", body).status_code == 404
        assert tenant.delete(f"/{kind}/{rid}").status_code == 404
    assert tenant.get("/Users").json()["totalResults"] == 0
    assert tenant.get('/Users?filter=userName eq "secret@globex.com"').json()["totalResults"] == 0
    assert tenant.get(f'/Users?filter=id eq "{user}"').json()["totalResults"] == 0
    assert tenant.get("/Groups").json()["totalResults"] == 0
    # their users cannot be put into our groups
    ours = tenant.create_group("Acme")["id"]
    r = tenant.patch(f"/Groups/{ours}", {"op": "Add", "path": "members", "value": [{"value": user}]})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"
    r = tenant.post("/Groups", {"schemas": [GROUP], "displayName": "Acme2", "members": [{"value": user}]})
    assert r.status_code == 400
    # the same userName may exist in two organizations
    assert tenant.post("/Users", {"schemas": [USER], "userName": "secret@globex.com"}).status_code == 201
    # and nothing of theirs changed
    assert other_tenant.get(f"/Users/{user}").json()["userName"] == "secret@globex.com"
    assert [m["value"] for m in other_tenant.get(f"/Groups/{group}").json()["members"]] == [user]


def test_token_only_opens_its_own_tenant_url(tenant: Tenant, other_tenant: Tenant, theirs: tuple[str, str]) -> None:
    user, _ = theirs
    mixed = Tenant(tenant.client, other_tenant.slug, other_tenant.org_id, tenant.token)
    assert mixed.get("/Users").status_code == 401
    assert mixed.get(f"/Users/{user}").status_code == 401
    assert mixed.post("/Users", {"schemas": [USER], "userName": "x@y"}).status_code == 401
    assert mixed.delete(f"/Users/{user}").status_code == 401
    assert mixed.patch(f"/Users/{user}", {"op": "replace", "path": "active", "value": False}).status_code == 401
    assert other_tenant.get(f"/Users/{user}").json()["active"] is True
    # by organization id works as well as by slug, for the right token
    by_id = Tenant(tenant.client, tenant.org_id, tenant.org_id, tenant.token)
    assert by_id.get("/Users").status_code == 200

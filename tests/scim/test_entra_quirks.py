"""The quirk checklist of entra-scim.md §10, replayed with Entra's request shapes."""

from __future__ import annotations

from typing import Any

from tests.scim.conftest import ENTERPRISE, GROUP, PATCH, USER, Tenant

MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def entra_user(user_name: str = "ada@contoso.com", **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2c4b1e6f6b",
        "userName": user_name,
        "active": True,
        "displayName": "Ada Lovelace",
        "title": "Engineer",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "phoneNumbers": [{"type": "work", "value": "55555555555"}],
        ENTERPRISE: {"department": "R&D", "employeeNumber": "1001"},
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"tag": "701984"},
        "meta": {"resourceType": "User"},
        "roles": [],
        **extra,
    }


def test_1_test_connection_random_guid_is_an_empty_list(tenant: Tenant) -> None:
    r = tenant.get("/Users?filter=userName+eq+%2272c6e8a4-3b0e-4a4e-9a39-0f5f0f9e2d11%22")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/scim+json")
    assert r.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "Resources": [],
        "startIndex": 1,
        "itemsPerPage": 0,
    }
    r = tenant.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22b1a0%22")
    assert r.status_code == 200 and r.json()["totalResults"] == 0


def test_2_unknown_query_parameters_and_slashes_are_tolerated(tenant: Tenant) -> None:
    u = tenant.create_user("ada@contoso.com")
    for path in (
        "/Users?aadOptscim062020&filter=userName+eq+%22ada%40contoso.com%22",
        "//Users?AzureAdScimPatch2017&filter=userName+eq+%22ada%40contoso.com%22",
        "/Users/?filter=userName+eq+%22ada%40contoso.com%22&whatever=1",
    ):
        r = tenant.get(path)
        assert r.status_code == 200, (path, r.text)
        assert [x["id"] for x in r.json()["Resources"]] == [u["id"]]


def test_3_no_user_agent_needed(tenant: Tenant) -> None:
    r = tenant.client.get(tenant.base + "/Users", headers={**tenant.headers(), "User-Agent": ""})
    assert r.status_code == 200


def test_4_filters_case_insensitive_and_unquoted(tenant: Tenant) -> None:
    u = tenant.post("/Users", entra_user()).json()
    ids = lambda r: [x["id"] for x in r.json()["Resources"]]  # noqa: E731
    assert ids(tenant.get('/Users?filter=userName eq "ADA@Contoso.COM"')) == [u["id"]]
    assert ids(tenant.get("/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7b2c4b1e6f6b%22")) == [u["id"]]
    assert ids(tenant.get("/Users?filter=externalId eq 0a21f0f2-8d2a-4f8e-bf98-7b2c4b1e6f6b")) == [u["id"]]
    assert ids(tenant.get('/Users?filter=emails[type eq "work"].value eq "ada@contoso.com"')) == [u["id"]]
    assert ids(tenant.get(f'/Users?filter=id eq "{u["id"]}" and userName eq "ada@contoso.com"')) == [u["id"]]
    g = tenant.create_group("Sales")
    r = tenant.get('/Groups?excludedAttributes=members&filter=displayName eq "sALES"')
    assert ids(r) == [g["id"]]


def test_5_excluded_members(tenant: Tenant) -> None:
    u = tenant.create_user("a@x.com")
    g = tenant.create_group("Sales")
    assert (
        tenant.patch(f"/Groups/{g['id']}", {"op": "Add", "path": "members", "value": [{"value": u["id"]}]}).status_code
        == 204
    )
    r = tenant.get(f"/Groups/{g['id']}?excludedAttributes=members")
    assert "members" not in r.json() and r.json()["displayName"] == "Sales"
    r = tenant.get('/Groups?excludedAttributes=members&filter=displayName eq "Sales"')
    assert "members" not in r.json()["Resources"][0]
    assert [m["value"] for m in tenant.get(f"/Groups/{g['id']}").json()["members"]] == [u["id"]]


def test_6_7_op_case_and_string_booleans(tenant: Tenant) -> None:
    r = tenant.post("/Users", entra_user(active="True"))
    assert r.status_code == 201 and r.json()["active"] is True
    uid = r.json()["id"]
    r = tenant.patch(f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "False"})
    assert r.status_code == 200 and r.json()["active"] is False
    r = tenant.patch(f"/Users/{uid}", {"op": "replace", "path": "active", "value": True})
    assert r.json()["active"] is True
    r = tenant.patch(f"/Users/{uid}", {"op": "REMOVE", "path": "title"})
    assert r.status_code == 200 and "title" not in r.json()


def test_8_pathless_replace_with_dotted_and_urn_keys(tenant: Tenant) -> None:
    uid = tenant.post("/Users", entra_user()).json()["id"]
    r = tenant.patch(
        f"/Users/{uid}",
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE}:employeeNumber": "Aklq",
            },
        },
    )
    body = r.json()
    assert body["displayName"] == "Bjfe"
    assert body["name"] == {"formatted": "Ada Lovelace", "familyName": "Unua", "givenName": "Kkom"}
    assert body[ENTERPRISE] == {"department": "R&D", "employeeNumber": "Aklq"}


def test_9_filtered_paths_create_and_merge_elements(tenant: Tenant) -> None:
    uid = tenant.post("/Users", entra_user()).json()["id"]
    r = tenant.patch(
        f"/Users/{uid}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updated@contoso.com"},
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "0612345678"},
        {"op": "Add", "path": 'addresses[type eq "work"].formatted', "value": "18/2111"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Utrecht"},
        {"op": "Add", "path": 'addresses[type eq "work"].region', "value": "UT"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Retail"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["emails"] == [{"primary": True, "type": "work", "value": "updated@contoso.com"}]
    assert body["phoneNumbers"] == [{"type": "work", "value": "55555555555"}, {"type": "mobile", "value": "0612345678"}]
    assert body["addresses"] == [{"type": "work", "formatted": "18/2111", "locality": "Utrecht", "region": "UT"}]
    assert body[ENTERPRISE]["department"] == "Retail" and body["nickName"] == "Babs"
    # and the directory columns follow
    again = tenant.get('/Users?filter=emails[type eq "work"].value eq "UPDATED@contoso.com"').json()
    assert again["totalResults"] == 1


def test_10_manager_shapes(tenant: Tenant) -> None:
    boss = tenant.create_user("boss@x.com")["id"]
    other = tenant.create_user("other@x.com")["id"]
    uid = tenant.create_user("emp@x.com")["id"]
    path = f"{ENTERPRISE}:manager"
    r = tenant.patch(f"/Users/{uid}", {"op": "Add", "path": path, "value": boss})
    assert r.json()[ENTERPRISE]["manager"] == {"value": boss}
    r = tenant.patch(f"/Users/{uid}", {"op": "replace", "path": path, "value": other})
    assert r.json()[ENTERPRISE]["manager"] == {"value": other}
    r = tenant.patch(f"/Users/{uid}", {"op": "replace", "path": path, "value": ""})
    assert ENTERPRISE not in r.json()
    r = tenant.patch(f"/Users/{uid}", {"op": "Add", "path": "manager", "value": [{"$ref": None, "value": boss}]})
    assert r.status_code == 400  # core User has no manager: the enterprise path is required
    r = tenant.patch(f"/Users/{uid}", {"op": "Add", "path": path, "value": [{"$ref": None, "value": boss}]})
    assert r.json()[ENTERPRISE]["manager"] == {"value": boss}


def test_11_12_member_removal_shapes_and_batches(tenant: Tenant) -> None:
    users = [tenant.create_user(f"u{i}@x.com")["id"] for i in range(5)]
    g = tenant.create_group("Eng")["id"]
    add = {"op": "Add", "path": "members", "value": [{"$ref": None, "value": u} for u in users[:3]]}
    add2 = {"name": "addMember", "op": "Add", "path": "members", "value": [{"value": u} for u in users[2:]]}
    assert tenant.patch(f"/Groups/{g}", add, add2).status_code == 204
    assert tenant.patch(f"/Groups/{g}", add).status_code == 204  # repeated adds are no-ops
    members = lambda: sorted(m["value"] for m in tenant.get(f"/Groups/{g}").json()["members"])  # noqa: E731
    assert members() == sorted(users)
    r = tenant.patch(f"/Groups/{g}", {"op": "Remove", "path": "members", "value": [{"value": users[0]}]})
    assert r.status_code == 204 and members() == sorted(users[1:])
    r = tenant.patch(f"/Groups/{g}", {"op": "remove", "path": f'members[value eq "{users[1]}"]'})
    assert r.status_code == 204 and members() == sorted(users[2:])
    r = tenant.patch(f"/Groups/{g}", {"op": "Replace", "path": "displayName", "value": "Eng EMEA"})
    assert r.status_code == 204 and tenant.get(f"/Groups/{g}").json()["displayName"] == "Eng EMEA"


def test_13_unknown_schema_uris_and_readonly_meta(tenant: Tenant) -> None:
    r = tenant.post(
        "/Groups",
        {"schemas": [GROUP, MS_GROUP], "externalId": "8aa1", "displayName": "Sales", "meta": {"resourceType": "Group"}},
    )
    assert r.status_code == 201 and r.json()["members"] == [] and r.json()["id"]
    r = tenant.post("/Users", entra_user())
    assert r.status_code == 201
    body = r.json()
    assert body["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"] == {"tag": "701984"}
    assert body["meta"]["resourceType"] == "User" and "roles" not in body


def test_14_values_verbatim(tenant: Tenant) -> None:
    body = tenant.post("/Users", entra_user(userName="Ada.Lovelace@Contoso.com")).json()
    assert body["userName"] == "Ada.Lovelace@Contoso.com"
    assert body["phoneNumbers"] == [{"type": "work", "value": "55555555555"}]


def test_15_soft_delete_stays_readable_then_delete(tenant: Tenant) -> None:
    uid = tenant.post("/Users", entra_user()).json()["id"]
    assert tenant.patch(f"/Users/{uid}", {"op": "Replace", "path": "active", "value": False}).json()["active"] is False
    assert tenant.get(f"/Users/{uid}").json()["active"] is False
    assert tenant.get('/Users?filter=userName eq "ada@contoso.com"').json()["totalResults"] == 1
    assert tenant.delete(f"/Users/{uid}").status_code == 204
    assert tenant.get(f"/Users/{uid}").status_code == 404
    assert tenant.delete(f"/Users/{uid}").status_code == 404
    assert tenant.patch(f"/Users/{uid}", {"op": "replace", "path": "active", "value": True}).status_code == 404


def test_16_uniqueness(tenant: Tenant) -> None:
    tenant.post("/Users", entra_user())
    r = tenant.post("/Users", entra_user(userName="ADA@contoso.com"))
    assert r.status_code == 409
    assert r.json()["scimType"] == "uniqueness" and r.json()["status"] == "409"
    assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    tenant.create_group("Sales")
    r = tenant.post("/Groups", {"schemas": [GROUP], "displayName": "sales"})
    assert r.status_code == 409 and r.json()["scimType"] == "uniqueness"
    other = tenant.create_user("bob@contoso.com")["id"]
    r = tenant.patch(f"/Users/{other}", {"op": "Replace", "path": "userName", "value": "Ada@Contoso.com"})
    assert r.status_code == 409
    r = tenant.patch(f"/Users/{other}", {"op": "Replace", "path": "userName", "value": "robert@contoso.com"})
    assert r.status_code == 200 and r.json()["userName"] == "robert@contoso.com" and r.json()["id"] == other


def test_17_content_type(tenant: Tenant) -> None:
    r = tenant.client.post(
        tenant.base + "/Users",
        content=b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c@x.com"}',
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/scim+json; charset=utf-8"},
    )
    assert r.status_code == 201 and r.headers["content-type"] == "application/scim+json"
    assert r.headers["location"].endswith(f"/scim/v2/acme/Users/{r.json()['id']}")


def test_missing_username_and_bad_bodies_are_400(tenant: Tenant) -> None:
    r = tenant.post("/Users", {"schemas": [USER], "displayName": "x"})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue" and "userName" in r.json()["detail"]
    r = tenant.client.post(tenant.base + "/Users", content=b"{not json", headers=tenant.headers())
    assert r.status_code == 400 and r.json()["scimType"] == "invalidSyntax"
    r = tenant.post("/Users", {"schemas": [USER], "userName": "x@y", "shoeSize": 44})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidSyntax" and "shoeSize" in r.json()["detail"]
    r = tenant.get('/Users?filter=userName eq "x" and')
    assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter"
    r = tenant.get("/Users?filter=shoeSize gt 3")
    assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter"
    uid = tenant.create_user("p@x.com")["id"]
    r = tenant.request("PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": []})
    assert r.status_code == 400
    r = tenant.patch(f"/Users/{uid}", {"op": "frobnicate", "path": "title", "value": "x"})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidSyntax"
    r = tenant.patch(f"/Users/{uid}", {"op": "replace", "path": "emails[type eq", "value": "x"})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidPath"
    r = tenant.patch(f"/Users/{uid}", {"op": "replace", "path": "active", "value": "maybe"})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"
    r = tenant.patch(f"/Users/{uid}", {"op": "replace", "path": "id", "value": "mine"})
    assert r.status_code == 400 and r.json()["scimType"] == "mutability"


def test_request_size_limit(tenant: Tenant) -> None:
    big = {"schemas": [USER], "userName": "big@x.com", "displayName": "x" * 1_100_000}
    r = tenant.post("/Users", big)
    assert r.status_code == 413 and r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_pagination_and_attributes(tenant: Tenant) -> None:
    ids = [tenant.create_user(f"user{i:02d}@x.com", title=f"T{i}")["id"] for i in range(7)]
    r = tenant.get("/Users?startIndex=3&count=2").json()
    assert r["totalResults"] == 7 and r["startIndex"] == 3 and r["itemsPerPage"] == 2
    seen = []
    for start in (1, 4, 7):
        seen += [x["id"] for x in tenant.get(f"/Users?startIndex={start}&count=3").json()["Resources"]]
    assert sorted(seen) == sorted(ids)
    r = tenant.get("/Users?count=0").json()
    assert r["totalResults"] == 7 and r["Resources"] == []
    r = tenant.get(f"/Users/{ids[0]}?attributes=userName").json()
    assert set(r) == {"schemas", "id", "userName"}
    r = tenant.get(f"/Users/{ids[0]}?excludedAttributes=title,meta").json()
    assert "title" not in r and "meta" not in r and r["userName"] == "user00@x.com"
    r = tenant.get("/Users?startIndex=abc")
    assert r.status_code == 400


def test_unauthorized(tenant: Tenant) -> None:
    assert tenant.client.get(tenant.base + "/Users").status_code == 401
    r = tenant.client.get(tenant.base + "/Users", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["status"] == "401"


def test_discovery(tenant: Tenant) -> None:
    r = tenant.get("/ServiceProviderConfig").json()
    assert r["patch"]["supported"] is True and r["filter"]["supported"] is True
    schemas = tenant.get("/Schemas").json()
    assert {s["id"] for s in schemas["Resources"]} >= {USER, GROUP, ENTERPRISE}
    assert "null" not in str(schemas).lower().replace("'null'", "")
    assert tenant.get(f"/Schemas/{GROUP}").json()["id"] == GROUP
    types = tenant.get("/ResourceTypes").json()
    assert {t["name"] for t in types["Resources"]} == {"User", "Group"}

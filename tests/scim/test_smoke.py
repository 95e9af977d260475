from tests.scim.conftest import ENTERPRISE, Tenant


def test_create_get_filter(tenant: Tenant) -> None:
    r = tenant.get("/Users?filter=userName+eq+%2272c6e8a4-3b0e-4a4e-9a39-0f5f0f9e2d11%22&aadOptscim062020")
    assert r.status_code == 200, r.text
    assert r.json()["totalResults"] == 0
    u = tenant.create_user("Ada@contoso.com", **{ENTERPRISE: {"department": "R&D"}})
    r = tenant.get(f"/Users/{u['id']}")
    assert r.status_code == 200
    assert r.json()[ENTERPRISE]["department"] == "R&D"
    r = tenant.get('/Users?filter=userName eq "ada@CONTOSO.com"')
    assert r.json()["totalResults"] == 1

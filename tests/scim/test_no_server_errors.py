"""Whatever JSON and filters a client sends, the Tenant URL answers 2xx or 4xx: never a 500 (issue 6 §6)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scim.conftest import PATCH, USER, Tenant

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# any code point, and the awkward ones often: NUL (PostgreSQL refuses it), empty, right-to-left, astral
TEXT = st.one_of(st.text(max_size=20), st.sampled_from(["\x00", "a\x00b", "", " ", "\u202e", "\U0001d4b3"]))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),  # beyond 64 bits too
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=15,
)
_ATTRIBUTES = [
    "userName", "name", "emails", "active", "displayName", "externalId", "members", "title", "phoneNumbers",
    "addresses", ENTERPRISE, "manager", "roles", "schemas", "id", "meta", "userType", "groups",
]  # fmt: skip
DOCUMENTS = st.dictionaries(st.sampled_from(_ATTRIBUTES), JSON, max_size=6)
_PATHS = st.one_of(
    TEXT,
    st.sampled_from(
        ["members", 'emails[type eq "work"].value', "name.givenName", "active", f"{ENTERPRISE}:manager",
         'members[value eq "x"]', 'addresses[type eq "work"].streetAddress', "externalId", "userName"]
    ),
)  # fmt: skip
_OPS = st.sampled_from(["add", "Replace", "remove", "bogus"])
OPERATIONS = st.lists(st.fixed_dictionaries({"op": _OPS, "path": _PATHS, "value": JSON}), max_size=3)


def _ok(r: Any, sent: Any) -> None:
    assert r.status_code < 500, (sent, r.text)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=DOCUMENTS, ops=OPERATIONS, text=st.one_of(TEXT, st.text(max_size=40)), n=st.integers(0, 10**9))
def test_any_body_or_filter_gets_a_client_answer(tenant: Tenant, doc: Any, ops: Any, text: str, n: int) -> None:
    # every other create has a valid userName, so the PATCH/PUT below get a user to work on
    named = doc if n % 2 else {**doc, "userName": f"u{n}@x.com"}
    r = tenant.post("/Users", {"schemas": [USER], **named})
    _ok(r, named)
    if r.status_code == 201:
        user = r.json()["id"]
        _ok(tenant.request("PATCH", f"/Users/{user}", {"schemas": [PATCH], "Operations": ops}), ops)
        _ok(tenant.request("PUT", f"/Users/{user}", {"schemas": [USER], "userName": f"p{n}@x.com", **doc}), doc)
    r = tenant.post("/Groups", {"displayName": f"g{n}", **doc})
    _ok(r, doc)
    if r.status_code == 201:
        _ok(tenant.request("PATCH", f"/Groups/{r.json()['id']}", {"schemas": [PATCH], "Operations": ops}), ops)
    _ok(tenant.get("/Users", params={"filter": text}), text)
    _ok(tenant.get("/Groups", params={"filter": text, "attributes": text, "excludedAttributes": text}), text)

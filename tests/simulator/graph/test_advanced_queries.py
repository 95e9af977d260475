"""Graph's advanced queries on /users and /groups: $count segment, $search, $orderby, ne/not/endsWith, paging
(spec §8.4; https://learn.microsoft.com/graph/aad-advanced-queries). Exact shapes and errors with raw HTTP."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from entra_simulator.graph.paging import Snapshots
from entra_simulator.state import Simulator
from tests.simulator.graph.conftest import BASE, BIG_MEMBERS
from tests.simulator.support import BIG_GROUP, DOMAIN, TENANT_ID

EVENTUAL = {"ConsistencyLevel": "eventual"}
ALL_USERS = BIG_MEMBERS + 4


def _get(client: TestClient, headers: dict[str, str], path: str, *, eventual: bool = True, **params: str) -> Any:
    return client.get(path, headers={**headers, **(EVENTUAL if eventual else {})}, params=params)


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["displayName"] for item in response.json()["value"]]


def snapshots_of(client: TestClient) -> Snapshots:
    cache: Snapshots = client.app.state.graph_snapshots  # type: ignore[attr-defined]
    return cache


def _error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    return error


def test_count_segment_is_a_bare_number_only_with_consistency_level(
    client: TestClient, headers: dict[str, str]
) -> None:
    error = _error(_get(client, headers, "/v1.0/users/$count", eventual=False))
    assert (error["code"], error["message"]) == ("Request_BadRequest", "$count is not currently supported.")
    counted = _get(client, headers, "/v1.0/users/$count")
    assert counted.status_code == 200 and counted.headers["content-type"].startswith("text/plain")
    assert counted.text == str(ALL_USERS) and counted.headers["request-id"]
    medewerkers = _get(client, headers, "/v1.0/users/$count", **{"$filter": "startsWith(displayName,'Medewerker')"})
    assert medewerkers.text == str(BIG_MEMBERS)
    disabled = _get(client, headers, "/v1.0/users/$count", **{"$filter": "accountEnabled ne true"})
    assert disabled.text == "1"  # the segment is itself the count: ne needs no $count=true here
    assert _get(client, headers, "/v1.0/groups/$count", **{"$search": '"displayName:verkoop"'}).text == "2"
    assert _get(client, headers, "/v1.0/groups/$count").text == "5"


def test_member_count_segments(client: TestClient, headers: dict[str, str]) -> None:
    ids = {g["displayName"]: g["id"] for g in client.get("/v1.0/groups", headers=headers).json()["value"]}
    assert _get(client, headers, f"/v1.0/groups/{ids[BIG_GROUP]}/members/$count").text == str(BIG_MEMBERS)
    nested = ids["Alle verkoop"]
    assert _get(client, headers, f"/v1.0/groups/{nested}/members/$count").text == "2"
    assert _get(client, headers, f"/v1.0/groups/{nested}/transitiveMembers/$count").text == "3"
    assert _error(_get(client, headers, f"/v1.0/groups/{nested}/members/$count", eventual=False))["message"] == (
        "$count is not currently supported."
    )
    assert _get(client, headers, "/v1.0/groups/unknown/members/$count").status_code == 404


def test_search_needs_consistency_level_and_quotes(client: TestClient, headers: dict[str, str]) -> None:
    error = _error(_get(client, headers, "/v1.0/users", eventual=False, **{"$search": '"displayName:jan"'}))
    assert error["code"] == "Request_UnsupportedQuery"
    assert error["message"] == (
        "Request with $search query parameter only works through MSGraph with a special request header: "
        "'ConsistencyLevel: eventual'"
    )
    for bad in ("displayName:jan", '"displayName:jan" or "mail:anna"', '"displayName jan"', '("displayName:jan"'):
        assert _error(_get(client, headers, "/v1.0/users", **{"$search": bad}))["code"] == "Request_UnsupportedQuery"
    unknown = _error(_get(client, headers, "/v1.0/users", **{"$search": '"shoeSize:42"'}))
    assert "'shoeSize' of resource 'User'" in unknown["message"]


def test_search_is_tokenized_prefix_match_with_and_or(client: TestClient, headers: dict[str, str]) -> None:
    def search(expression: str, path: str = "/v1.0/users") -> list[str]:
        return sorted(_names(_get(client, headers, path, **{"$search": expression, "$top": "999"})))

    assert search('"displayName:vries"') == ["Jan de Vries"]  # any token, any order, any case
    assert search('"displayName:ries"') == []  # tokens match by prefix, not "contains"
    assert search('"displayName:Medewerker 0001"') == [f"Medewerker {i:05d}" for i in range(10, 20)]
    assert search('"mail:jan.dev" OR "displayName:Anna"') == ["Anna Admin", "Jan de Vries"]
    assert search('"mail:vries"') == []  # mail is a startsWith
    assert search('"givenName:Piet" AND "surname:uit"') == ["Piet Uit"]
    assert search('("givenName:Piet" OR "givenName:Jan") AND "surname:de"') == ["Jan de Vries"]
    assert search('"userPrincipalName:sam_fabrikam"') == ["Sam Guest"]
    assert search('"jobTitle:account"') == ["Jan de Vries"]  # any $filter string property, as startsWith
    assert search('"displayName:MarketingTeam"', "/v1.0/groups") == ["Marketing Team"]  # case change splits
    assert search('"displayName:verkoop"', "/v1.0/groups") == ["Alle verkoop", "Verkoop"]
    assert search('"mailNickname:AlleV"', "/v1.0/groups") == ["Alle verkoop"]


def test_search_examples_of_graphs_user_list_page(client: TestClient, headers: dict[str, str]) -> None:
    """learn.microsoft.com/graph/api/user-list examples 6 and 7: "wa" finds "Oscar Ward", "ad" "contosoAdmin1"."""
    for name in ("Oscar Ward", "contosoAdmin1"):
        user = {"userPrincipalName": f"{name.replace(' ', '.').lower()}@{DOMAIN}", "displayName": name}
        assert client.post(f"/_simulator/tenants/{TENANT_ID}/users", json=user).status_code == 201
    query = {"$search": '"displayName:wa" OR "displayName:ad"', "$orderby": "displayName", "$count": "true"}
    found = _get(client, headers, "/v1.0/users", **query).json()
    assert [u["displayName"] for u in found["value"]] == ["Anna Admin", "contosoAdmin1", "Oscar Ward"]
    assert found["@odata.count"] == 3


def test_search_on_group_description(client: TestClient, headers: dict[str, str]) -> None:
    group = {"displayName": "Project Zeeland", "description": "Dijkversterking (fase-2) team"}
    assert client.post(f"/_simulator/tenants/{TENANT_ID}/groups", json=group).status_code == 201
    for expression in ('"description:dijk"', '"description:fase2"', '"description:Team" AND "displayName:zee"'):
        assert _names(_get(client, headers, "/v1.0/groups", **{"$search": expression})) == ["Project Zeeland"]
    assert _names(_get(client, headers, "/v1.0/groups", **{"$search": '"description:versterking"'})) == []


def test_ne_not_and_ends_with_need_both_advanced_parameters(client: TestClient, headers: dict[str, str]) -> None:
    guests = f"endsWith(userPrincipalName,'#EXT#@{DOMAIN}')"
    cases = {"accountEnabled ne true": "ne", "not(startsWith(displayName,'Medewerker'))": "not", guests: "endsWith"}
    for expression, operator in cases.items():
        for eventual, count in ((False, {}), (True, {}), (False, {"$count": "true"})):
            error = _error(_get(client, headers, "/v1.0/users", eventual=eventual, **{"$filter": expression, **count}))
            assert error["code"] == "Request_UnsupportedQuery"
            assert error["message"].startswith(f"Operator '{operator}' is not supported because the required")
    advanced = {"$count": "true", "$top": "999"}
    assert _names(_get(client, headers, "/v1.0/users", **{"$filter": "accountEnabled ne true", **advanced})) == [
        "Piet Uit"
    ]
    not_staff = _get(
        client, headers, "/v1.0/users", **{"$filter": "NOT startsWith(displayName,'Medewerker')", **advanced}
    )
    assert sorted(_names(not_staff)) == ["Anna Admin", "Jan de Vries", "Piet Uit", "Sam Guest"]
    assert not_staff.json()["@odata.count"] == 4
    assert _names(_get(client, headers, "/v1.0/users", **{"$filter": guests, **advanced})) == ["Sam Guest"]
    unsupported = _error(_get(client, headers, "/v1.0/users", **{"$filter": "endsWith(displayName,'s')", **advanced}))
    assert unsupported["message"] == (
        "Unsupported or invalid query filter clause specified for property 'displayName' of resource 'User'."
    )


def test_default_filters_need_no_advanced_parameters(client: TestClient, headers: dict[str, str]) -> None:
    def names(expression: str) -> list[str]:
        return sorted(_names(_get(client, headers, "/v1.0/users", eventual=False, **{"$filter": expression})))

    assert names("givenName eq 'Jan' or surname eq 'Uit'") == ["Jan de Vries", "Piet Uit"]
    assert names("startsWith(displayName,'Medewerker') and surname in ('00003', '00100')") == [
        "Medewerker 00003",
        "Medewerker 00100",
    ]
    assert names("userType eq 'Guest' and (accountEnabled eq true)") == ["Sam Guest"]
    assert _error(_get(client, headers, "/v1.0/users", **{"$filter": "displayName eq"}))["code"] == "BadRequest"


def test_orderby_defaults_and_what_needs_advanced_parameters(client: TestClient, headers: dict[str, str]) -> None:
    def listed(*, eventual: bool = False, **params: str) -> Any:
        return _get(client, headers, "/v1.0/users", eventual=eventual, **{"$top": "999", **params})

    ascending = _names(listed(**{"$orderby": "displayName"}))
    assert ascending == sorted(ascending, key=str.lower) and len(ascending) == ALL_USERS
    upns = [u["userPrincipalName"] for u in listed(**{"$orderby": "userPrincipalName asc"}).json()["value"]]
    assert upns == sorted(upns, key=str.lower)
    sorting = "Sorting not supported for current query."
    assert _error(listed(**{"$orderby": "displayName desc"}))["message"] == sorting
    filtered = {"$orderby": "displayName", "$filter": "startsWith(displayName,'M')"}
    assert _error(listed(**filtered))["message"] == sorting
    assert _error(listed(eventual=True, **filtered))["message"] == sorting  # the header alone is not enough
    first_two = _names(listed(eventual=True, **filtered, **{"$count": "true"}))[:2]
    assert first_two == ["Medewerker 00000", "Medewerker 00001"]
    descending = _names(listed(eventual=True, **{"$orderby": "displayName desc", "$count": "true"}))
    assert descending == ascending[::-1]
    unsupported = _error(listed(**{"$orderby": "createdDateTime"}))
    assert unsupported["message"] == "Unsupported sort property 'createdDateTime' for 'User'."
    groups = _get(client, headers, "/v1.0/groups", eventual=False, **{"$orderby": "displayName"})
    assert _names(groups) == ["Alle medewerkers", "Alle verkoop", "Finance", "Marketing Team", "Verkoop"]
    on_groups = _get(client, headers, "/v1.0/groups", eventual=False, **{"$orderby": "userPrincipalName"})
    assert _error(on_groups)["message"] == "Unsupported sort property 'userPrincipalName' for 'Group'."


def test_advanced_query_pages_without_the_header_on_next_links(client: TestClient, headers: dict[str, str]) -> None:
    query = {
        "$filter": "startsWith(displayName,'Medewerker') and accountEnabled ne false",
        "$orderby": "displayName desc",
        "$count": "true",
        "$top": "100",
        "$select": "id,displayName",
    }
    first = _get(client, headers, "/v1.0/users", **query).json()
    assert first["@odata.count"] == BIG_MEMBERS and len(first["value"]) == 100
    names = [u["displayName"] for u in first["value"]]
    next_url = first["@odata.nextLink"]
    pages = 1
    while next_url:
        assert next_url.startswith(f"{BASE}/v1.0/users?") and "$orderby=displayName+desc" in next_url
        assert "$count=true" in next_url and "accountEnabled+ne+false" in next_url
        page = client.get(next_url, headers=headers)  # no ConsistencyLevel, as msgraph-sdk and others send it
        assert page.status_code == 200, page.text
        body = page.json()
        assert "@odata.count" not in body
        names += [u["displayName"] for u in body["value"]]
        next_url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 3 and names == [f"Medewerker {i:05d}" for i in reversed(range(BIG_MEMBERS))]
    plain_next = _get(client, headers, "/v1.0/users", eventual=False, **{"$top": "100"}).json()["@odata.nextLink"]
    refused = client.get(plain_next.replace("$top=100", "$top=100&$filter=accountEnabled+ne+true"), headers=headers)
    assert _error(refused)["message"].startswith("Operator 'ne' is not supported")  # a plain token carries nothing


def test_query_lists_follow_directory_changes_and_stay_bounded(
    client: TestClient, headers: dict[str, str], sim: Simulator
) -> None:
    def count() -> str:
        return str(_get(client, headers, "/v1.0/users/$count", **{"$search": '"displayName:Zeeuw"'}).text)

    assert count() == "0"
    user = {"userPrincipalName": f"kees.zeeuw@{DOMAIN}", "givenName": "Kees", "surname": "Zeeuw"}
    assert client.post(f"/_simulator/tenants/{TENANT_ID}/users", json=user).status_code == 201
    assert count() == "1"  # the cached list of the query is rebuilt after the change
    cache = snapshots_of(client)
    tenant = sim.directory.tenants[TENANT_ID]
    for n in range(Snapshots.QUERY_LISTS + 10):
        assert cache.query(sim, tenant, ("users", str(n)), list) == []
    assert len(cache._queries) == Snapshots.QUERY_LISTS


_PIECES = ["(", ")", "not", "and", "or", "eq", "ne", "in", "startsWith", "endsWith", ",", "'a'", "'O''x'", "'"]
_PIECES += ["displayName", "accountEnabled", "mail", "shoeSize", "true", "null", "7", '"', ":", "AND", "OR", "\x00"]
_PIECES += ['"displayName:jan"', '"mail:a\\"b"', "(" * 40, "not " * 40, "é"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_PIECES), max_size=12), st.sampled_from(["$filter", "$search", "$orderby"]))
@example(["(" * 40] * 12, "$filter")  # nesting past Python's recursion limit: a 400, not a 500
@example(["not " * 40] * 12, "$filter")
@example(["(" * 40] * 12, "$search")
def test_any_query_text_is_an_answer_or_graphs_400(
    client: TestClient, headers: dict[str, str], pieces: list[str], option: str
) -> None:
    response = _get(client, headers, "/v1.0/users", **{option: " ".join(pieces), "$count": "true"})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert _error(response)["code"] in ("BadRequest", "Request_BadRequest", "Request_UnsupportedQuery")

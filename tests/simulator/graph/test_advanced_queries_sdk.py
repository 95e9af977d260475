"""msgraph-sdk's own advanced queries against the simulator over HTTPS (spec §8.4, §9.7).

As an app would write them: ``RequestConfiguration`` with the header ``ConsistencyLevel: eventual`` and the
query parameters ``count``/``search``/``orderby``/``filter``; ``.users.count.get()`` for the ``$count`` segment;
``PageIterator`` following nextLinks (it does not send ``ConsistencyLevel`` again). Tokens come from
azure-identity; the simulator's CA is trusted through ``SSL_CERT_FILE``; nothing is patched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.count.count_request_builder import CountRequestBuilder as GroupCountBuilder
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.groups.item.members.count.count_request_builder import CountRequestBuilder as MemberCountBuilder
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.count.count_request_builder import CountRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core.tasks.page_iterator import PageIterator

from entra_simulator.server import TlsFiles
from tests.simulator.graph.conftest import BIG_MEMBERS
from tests.simulator.support import (
    BIG_GROUP,
    TENANT_ID,
    WEB_APP_ID,
    WEB_SECRET,
    ClientCertificate,
    SimulatorHandle,
    new_simulator,
    running,
    sample_seed,
)

T = TypeVar("T")
Query = TypeVar("Query")
UserQuery = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters
UserCount = CountRequestBuilder.CountRequestBuilderGetQueryParameters
GroupCount = GroupCountBuilder.CountRequestBuilderGetQueryParameters
MemberCount = MemberCountBuilder.CountRequestBuilderGetQueryParameters


@pytest.fixture(scope="module")
def live(tls_files: TlsFiles, certificate: ClientCertificate) -> Iterator[SimulatorHandle]:
    with running(new_simulator(sample_seed(certificate, big_group_members=BIG_MEMBERS)), tls_files) as handle:
        yield handle


@pytest.fixture(autouse=True)
def trust_simulator_ca(monkeypatch: pytest.MonkeyPatch, live: SimulatorHandle) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(live.ca_bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(live.ca_bundle))


def _run(live: SimulatorHandle, use: Callable[[GraphServiceClient, GraphRequestAdapter], Awaitable[T]]) -> T:
    async def run() -> T:
        credential = ClientSecretCredential(
            TENANT_ID, WEB_APP_ID, WEB_SECRET, authority=live.url, disable_instance_discovery=True
        )
        provider = AzureIdentityAuthenticationProvider(credential, scopes=["https://graph.microsoft.com/.default"])
        adapter = GraphRequestAdapter(provider)
        adapter.base_url = f"{live.url}/v1.0"
        async with credential:
            return await use(GraphServiceClient(request_adapter=adapter), adapter)

    return asyncio.run(run())


def _eventual(query: Query) -> RequestConfiguration[Query]:
    config = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")
    return config


def test_sdk_search_orderby_and_count_page_through_without_the_header(live: SimulatorHandle) -> None:
    query = UserQuery(
        search='"displayName:medewerker" AND "surname:001"',
        filter="accountEnabled ne false",
        orderby=["displayName desc"],
        count=True,
        top=30,
        select=["id", "displayName"],
    )

    async def use(client: GraphServiceClient, adapter: GraphRequestAdapter) -> tuple[int | None, list[Any]]:
        first = await client.users.get(_eventual(query))
        assert first is not None and first.odata_next_link
        users: list[Any] = []

        def collect(user: Any) -> bool:
            users.append(user)
            return True

        await PageIterator(first, adapter).iterate(collect)
        return first.odata_count, users

    count, users = _run(live, use)
    assert count == 100 and all(isinstance(u, User) for u in users)
    assert [u.display_name for u in users] == [f"Medewerker {i:05d}" for i in reversed(range(100, 200))]


def test_sdk_count_segments(live: SimulatorHandle) -> None:
    async def use(client: GraphServiceClient, _: GraphRequestAdapter) -> tuple[Any, ...]:
        everyone = await client.users.count.get(_eventual(UserCount()))
        staff = await client.users.count.get(_eventual(UserCount(filter="startsWith(displayName,'Medewerker')")))
        groups = await client.groups.get(_eventual(GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters()))
        assert groups is not None and groups.value is not None
        big = next(str(g.id) for g in groups.value if g.display_name == BIG_GROUP)
        members = await client.groups.by_group_id(big).members.count.get(_eventual(MemberCount()))
        verkoop = await client.groups.count.get(_eventual(GroupCount(search='"displayName:verkoop"')))
        return everyone, staff, members, verkoop

    assert _run(live, use) == (BIG_MEMBERS + 4, BIG_MEMBERS, BIG_MEMBERS, 2)


def _error(live: SimulatorHandle, call: Callable[[GraphServiceClient], Awaitable[Any]]) -> tuple[Any, ...]:
    async def use(client: GraphServiceClient, _: GraphRequestAdapter) -> ODataError:
        with pytest.raises(ODataError) as caught:
            await call(client)
        return caught.value

    error = _run(live, use)
    assert error.error is not None
    return error.response_status_code, error.error.code, error.error.message


def test_sdk_sees_graphs_errors_without_the_advanced_parameters(live: SimulatorHandle) -> None:
    search = RequestConfiguration(query_parameters=UserQuery(search='"displayName:jan"'))
    assert _error(live, lambda c: c.users.get(search)) == (
        400,
        "Request_UnsupportedQuery",
        "Request with $search query parameter only works through MSGraph with a special request header: "
        "'ConsistencyLevel: eventual'",
    )
    ends = _eventual(UserQuery(filter="endsWith(userPrincipalName,'#EXT#@contoso-nl.onmicrosoft.com')"))
    status, code, message = _error(live, lambda c: c.users.get(ends))  # the header without $count=true
    assert (status, code) == (400, "Request_UnsupportedQuery") and message.startswith("Operator 'endsWith' is not")
    assert _error(live, lambda c: c.users.count.get()) == (
        400,
        "Request_BadRequest",
        "$count is not currently supported.",
    )
    sort = RequestConfiguration(
        query_parameters=UserQuery(filter="startsWith(displayName,'M')", orderby=["displayName"])
    )
    assert _error(live, lambda c: c.users.get(sort))[2] == "Sorting not supported for current query."

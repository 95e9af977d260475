"""msgraph-sdk against the simulator with only the base URL and authority changed (issue 3 §5; spec §9.7).

``GraphServiceClient`` gets its tokens from azure-identity's ``ClientSecretCredential`` (authority = the
simulator, instance discovery off) and talks HTTPS to the simulator, trusting its CA through ``SSL_CERT_FILE``
(set by the conformance conftest). It lists a 5,000-member group through ``PageIterator`` and runs a delta
round that sees one member added and one removed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.delta.delta_get_response import DeltaGetResponse
from msgraph.generated.groups.item.members.members_request_builder import MembersRequestBuilder
from msgraph.generated.models.group import Group
from msgraph.generated.models.user import User
from msgraph_core.tasks.page_iterator import PageIterator

from tests.conformance.conftest import BIG_GROUP_MEMBERS
from tests.simulator.support import BIG_GROUP, TENANT_ID, WEB_APP_ID, WEB_SECRET, SimulatorHandle, sample_seed

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]


def _client(handle: SimulatorHandle) -> tuple[GraphServiceClient, GraphRequestAdapter, ClientSecretCredential]:
    credential = ClientSecretCredential(
        TENANT_ID, WEB_APP_ID, WEB_SECRET, authority=handle.url, disable_instance_discovery=True
    )
    adapter = GraphRequestAdapter(AzureIdentityAuthenticationProvider(credential, scopes=GRAPH_DEFAULT))
    adapter.base_url = f"{handle.url}/v1.0"
    return GraphServiceClient(request_adapter=adapter), adapter, credential


async def _group_id(client: GraphServiceClient, name: str) -> str:
    page = await client.groups.get()
    assert page is not None and page.value is not None
    return next(str(g.id) for g in page.value if g.display_name == name)


def test_page_iterator_lists_all_members_of_a_5000_member_group(simulator: SimulatorHandle) -> None:
    async def run() -> tuple[list[Any], int]:
        client, adapter, credential = _client(simulator)
        async with credential:
            group_id = await _group_id(client, BIG_GROUP)
            params = MembersRequestBuilder.MembersRequestBuilderGetQueryParameters(
                top=999, select=["id", "displayName", "userPrincipalName"]
            )
            first = await client.groups.by_group_id(group_id).members.get(RequestConfiguration(query_parameters=params))
            assert first is not None and first.odata_next_link
            members: list[Any] = []

            def collect(item: Any) -> bool:
                members.append(item)
                return True

            await PageIterator(first, adapter).iterate(collect)
            return members, len(first.value or [])

    members, first_page = asyncio.run(run())
    assert first_page == 999
    assert len(members) == len({m.id for m in members}) == BIG_GROUP_MEMBERS
    assert all(isinstance(m, User) for m in members)  # typed from @odata.type
    assert members[0].user_principal_name.startswith("medewerker")


def test_delta_round_sees_an_added_and_a_removed_member(
    start_simulator: Callable[[dict[str, Any]], SimulatorHandle], client_certificate: Any
) -> None:
    handle = start_simulator(sample_seed(client_certificate, big_group_members=3))
    admin = f"/_simulator/tenants/{TENANT_ID}/groups/{BIG_GROUP}/members"

    async def drain(client: GraphServiceClient, url: str | None) -> tuple[list[Group], str]:
        items: list[Group] = []
        response: DeltaGetResponse | None = (
            await client.groups.delta.get() if url is None else await client.groups.delta.with_url(url).get()
        )
        while True:
            assert response is not None
            items += response.value or []
            if response.odata_delta_link:
                return items, response.odata_delta_link
            response = await client.groups.delta.with_url(str(response.odata_next_link)).get()

    async def run() -> tuple[list[Group], list[Group], dict[str, str]]:
        client, _, credential = _client(handle)
        async with credential:
            initial, delta_link = await drain(client, None)
            with httpx.Client(base_url=handle.url, verify=str(handle.ca_bundle)) as http:
                added = http.post(admin, json={"member": "anna.admin@contoso-nl.onmicrosoft.com"}).json()["member"]
                removed = http.delete(f"{admin}/medewerker00001@contoso.nl").json()["member"]
            changes, _ = await drain(client, delta_link)
            return initial, changes, {"added": added, "removed": removed}

    initial, changes, ids = asyncio.run(run())
    big = [g for g in initial if g.display_name == BIG_GROUP]
    assert big and len(big[0].additional_data["members@delta"]) == 3
    (changed,) = changes
    assert changed.display_name == BIG_GROUP
    members_delta = {str(m["id"]): m for m in changed.additional_data["members@delta"]}
    assert set(members_delta) == {ids["added"], ids["removed"]}
    assert "@removed" not in members_delta[ids["added"]]
    assert members_delta[ids["removed"]]["@removed"] == {"reason": "deleted"}

"""Groups overage (spec §7.4): over 200 groups the token lists none; ask Microsoft Graph instead.

App-only token (client credentials, spec §4.2) for the connection's app in the user's tenant,
then ``GET /v1.0/users/{oid}/memberOf`` (groups only, direct memberships, as the directory
sync reads them: seed 000), following ``@odata.nextLink`` verbatim (§8.4).
"""

from __future__ import annotations

from koppel.errors import UpstreamError
from koppel.sso.protocol.entra import groups_from_member_of
from koppel.sso.upstream.config import UpstreamConfig
from koppel.sso.upstream.fetcher import UpstreamFetcher

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
MAX_PAGES = 50


def overage_groups(
    *, fetcher: UpstreamFetcher, config: UpstreamConfig, graph_url: str, user_oid: str
) -> list[tuple[str, str | None]]:
    metadata = fetcher.metadata(config.discovery_url)
    token = fetcher.token_request(
        metadata.token_endpoint,
        data={"grant_type": "client_credentials", "scope": GRAPH_DEFAULT_SCOPE},
        client_id=config.client_id,
        client_secret=config.client_secret,
        basic=False,
    )
    headers = {"Authorization": f"Bearer {token.get('access_token', '')}"}
    url: str | None = f"{graph_url}/v1.0/users/{user_oid}/memberOf?$select=id,displayName&$top=999"
    groups: list[tuple[str, str | None]] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return groups
        page = fetcher.get_json(url, what="the user's groups from Microsoft Graph", headers=headers)
        groups.extend(groups_from_member_of(page))
        url = page.get("@odata.nextLink")
    raise UpstreamError("Microsoft Graph kept paging the user's groups; giving up after 50 pages")

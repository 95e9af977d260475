"""Groups overage (spec §7.4): over 200 groups the token lists none; ask Microsoft Graph instead.

App-only token (client credentials, spec §4.2) for the connection's app in the user's tenant,
then ``GET /v1.0/users/{oid}/transitiveMemberOf/microsoft.graph.group``: transitive, as the groups
claim itself is (spec §7.4), following ``@odata.nextLink`` verbatim (§8.4).
"""

from __future__ import annotations

from dataclasses import replace

from koppel.errors import UpstreamError
from koppel.sso.protocol.claims import UpstreamIdentity
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
    url: str | None = (
        f"{graph_url}/v1.0/users/{user_oid}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=999"
    )
    groups: list[tuple[str, str | None]] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return groups
        page = fetcher.get_json(url, what="the user's groups from Microsoft Graph", headers=headers)
        groups.extend(groups_from_member_of(page))
        url = page.get("@odata.nextLink")
    raise UpstreamError("Microsoft Graph kept paging the user's groups; giving up after 50 pages")


def with_profile(
    *, fetcher: UpstreamFetcher, graph_url: str, access_token: str | None, identity: UpstreamIdentity
) -> UpstreamIdentity:
    """Fill given/family name from Graph ``/me`` (spec §8.3): Entra ID tokens carry them only as
    optional claims (§7.2). Asked once, when a user is created just in time."""
    if not access_token or (identity.given_name and identity.family_name):
        return identity
    try:
        me = fetcher.get_json(
            f"{graph_url}/v1.0/me?$select=givenName,surname,mail",
            what="the user's profile from Microsoft Graph",
            headers={"Authorization": f"Bearer {access_token}"},
        )
    except UpstreamError:
        return identity  # names are a nicety; the login does not fail for them
    return replace(
        identity,
        given_name=identity.given_name or me.get("givenName"),
        family_name=identity.family_name or me.get("surname"),
    )

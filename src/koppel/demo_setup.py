"""What the demo configures in koppel before it starts: the story of seeds 000 and 001 in one tenant.

An organization with the tenant's domains, an Entra connection (customer-app mode, the tenant's
generated app registration), a group → role table, and the sample host app's client registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from koppel.clikit import Runtime
from koppel.organizations import service as org_service
from koppel.roles import service as roles_service
from koppel.sso import clients, connections

ORG_SLUG = "contoso"
# Seed 001's "koppelvlaktabel": group display name (generated tenant) → role in the host app.
ROLE_TABLE = {"Alle medewerkers": "employee", "Afdeling HR": "hr-manager", "Afdeling ICT": "it-admin"}


@dataclass(frozen=True)
class DemoConfig:
    connection_id: str
    client_id: str
    client_secret: str


def configure(
    rt: Runtime, *, simulator: dict[str, Any], seed: dict[str, Any], host_url: str, id_token_alg: str = "RS256"
) -> DemoConfig:
    tenant = seed["tenants"][0]
    app = tenant["applications"][0]
    now = rt.now()
    with rt.transaction() as session:
        org = org_service.create_organization(
            session=session,
            slug=ORG_SLUG,
            fields=org_service.OrganizationFields(name=tenant["displayName"], default_role="member"),
            domains=list(tenant["domains"]),
            now=now,
        )
        org.settings = {"sso_provisioning": "jit"}
        entra_app = connections.EntraApp(
            f"{simulator['url']}/{tenant['id']}/", app["appId"], app["secrets"][0]["value"]
        )
        connection = connections.add_entra_app(
            session=session, secret_box=rt.secret_box, org=org.id, app=entra_app, now=now
        )
        for group in tenant["groups"]:
            if group["displayName"] in ROLE_TABLE:
                roles_service.add_mapping(
                    session=session, org_id=org.id, group_key=group["id"], role=ROLE_TABLE[group["displayName"]],
                    now=now,
                )  # fmt: skip
        client, secret = clients.create_client(
            session=session,
            name="Sample host app",
            redirect_uris=[f"{host_url}/callback"],
            post_logout_redirect_uris=[f"{host_url}/"],
            initiate_login_uri=f"{host_url}/login",
            id_token_signed_response_alg=id_token_alg,
            now=now,
        )
        return DemoConfig(connection.id, client.client_id, secret)

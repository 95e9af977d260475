"""The ``groups`` claim: which groups, in which format, and the overage form (spec §7.4).

``groupMembershipClaims`` picks the groups (SecurityGroup / All: transitive; ApplicationGroup: groups assigned
to the app, direct only; DirectoryRole / None: no groups claim). ``optionalClaims.<token>.groups
.additionalProperties`` picks the format (object id; ``sam_account_name`` & co. for on-prem-synced groups;
``cloud_displayname`` with ApplicationGroup; ``emit_as_roles``). Past the limit, ``_claim_names`` and
``_claim_sources`` replace the claim.
"""

from __future__ import annotations

from typing import Any

from entra_simulator.model import AppRegistration, Group, Tenant, User
from entra_simulator.state import Simulator

ROLE_TEMPLATES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
}
SAM_FORMATS = ("sam_account_name", "dns_domain_and_sam_account_name", "netbios_domain_and_sam_account_name")


def wids(user: User) -> list[str]:
    ids = [ROLE_TEMPLATES.get(r, r) for r in user.directory_roles]
    return [*ids, "b79fbf4d-3ef9-4689-8143-76b194e85509"]  # every member holds the default "User" role


def _selected_groups(sim: Simulator, tenant: Tenant, app: AppRegistration, user: User) -> list[Group]:
    mode = (app.group_membership_claims or "None").replace(" ", "")
    modes = set(mode.split(","))
    if modes & {"All", "SecurityGroup"}:
        ids = sim.directory.transitive_groups(tenant, user.id)
        groups = [tenant.groups[g] for g in ids]
        return groups if "All" in modes else [g for g in groups if g.is_security]
    if "ApplicationGroup" in modes:
        sp = tenant.service_principals.get(app.app_id)
        assigned = {p for p, _ in sp.user_roles} if sp else set()
        return [tenant.groups[g] for g in user.member_of if g in assigned and g in tenant.groups]
    return []


def _format(sim: Simulator, tenant: Tenant, group: Group, props: list[str]) -> str | None:
    sam_format = next((p for p in props if p in SAM_FORMATS), None)
    if sam_format and group.sam_account_name:
        domain = tenant.domains[-1]
        if sam_format == "dns_domain_and_sam_account_name":
            return f"{domain}\\{group.sam_account_name}"
        if sam_format == "netbios_domain_and_sam_account_name":
            return f"{domain.split('.')[0].upper()}\\{group.sam_account_name}"
        return group.sam_account_name
    if sam_format and not sim.settings.unsynced_groups_as_ids:
        return None
    if "cloud_displayname" in props and not group.sam_account_name:
        return group.display_name
    return group.id


def group_claims(sim: Simulator, tenant: Tenant, app: AppRegistration, user: User, token_type: str) -> dict[str, Any]:
    """The group-related claims for one token ("idToken" or "accessToken")."""
    groups = _selected_groups(sim, tenant, app, user)
    if not groups:
        return {}
    optional = next((c for c in app.optional_claims.get(token_type, []) if c.get("name") == "groups"), {})
    props = list(optional.get("additionalProperties", []))
    if len(groups) > sim.settings.group_claim_limit:
        return {
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {
                "src1": {"endpoint": f"https://graph.windows.net/{tenant.id}/users/{user.id}/getMemberObjects"}
            },
        }
    values = [v for g in groups if (v := _format(sim, tenant, g, props)) is not None]
    return {"roles" if "emit_as_roles" in props else "groups": values}

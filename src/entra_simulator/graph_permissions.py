"""Microsoft Graph's permissions as the simulator knows them (spec §7.3, §8): name → permission id.

Ids are Microsoft Graph's published permission ids (learn.microsoft.com/graph/permissions-reference) for the
permissions the simulated endpoints check; they only show up in ``/applications`` ``requiredResourceAccess``.
"""

from __future__ import annotations

from entra_simulator.model import GRAPH_APP_ID

GRAPH_ROLES = {
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
    "User.Invite.All": "09850681-111b-4a89-9bed-3f2cae46d706",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "TeamMember.Read.All": "660b7406-55f1-41ca-a0ed-0b035e182f3e",
    "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
}
GRAPH_SCOPES = {
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    "User.ReadBasic.All": "b340eb25-3456-403f-be2f-af7a0d370277",
    "User.Read.All": "a154be20-db9c-4678-8ab7-66f6cc099a59",
    "Group.Read.All": "5f8c59db-677d-491f-a6b8-5f174b11ec1d",
    "GroupMember.Read.All": "bc024368-1153-4739-b217-4326f2e966d0",
    "Directory.Read.All": "06da0dbc-49e2-44d2-8312-53f166ab848a",
    "openid": "37f7f235-527c-4136-accd-4a02d197296e",
    "profile": "14dad69e-099b-42c9-810b-d002981feec1",
    "email": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
    "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
}

# What each simulated endpoint accepts (any one suffices); app-only roles and delegated scopes alike.
READ_USERS = {
    "User.Read.All",
    "User.ReadWrite.All",
    "User.ReadBasic.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
}
READ_GROUPS = {"Group.Read.All", "GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"}
READ_TEAM_MEMBERS = {"TeamMember.Read.All", "TeamMember.ReadWrite.All", "Group.Read.All", "Directory.Read.All"}
INVITE = {"User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
READ_APPS = {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"}
READ_ORG = {"Organization.Read.All", "Directory.Read.All", "User.Read"}
READ_ME = {"User.Read", "User.ReadWrite", "User.Read.All", "Directory.Read.All"}

GRAPH_RESOURCES = {GRAPH_APP_ID, "https://graph.microsoft.com", "https://graph.microsoft.com/"}


def permission_id(resource: str, value: str, kind: str) -> str | None:
    if resource != GRAPH_APP_ID:
        return None
    return (GRAPH_ROLES if kind == "Role" else GRAPH_SCOPES).get(value)

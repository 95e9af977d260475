"""Users, groups and the organization as Graph shows them: default property sets, ``$select``, cached JSON.

Spec §8.2-§8.4: users show eleven properties unless ``$select`` asks for others; groups show their standard
set. Unset properties appear as ``null`` (collections as ``[]``). The encoded JSON of each object is cached on
the object per selection (the store drops it on change), so a page of members is a join of cached bytes.
"""

from __future__ import annotations

from typing import Any

from entra_simulator.errors import GraphError
from entra_simulator.graph.wire import dumps
from entra_simulator.model import Group, Tenant, User

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"

USER_DEFAULT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
_USER_MORE = (
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "deletedDateTime",
    "department",
    "employeeHireDate",
    "employeeId",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "identities",
    "imAddresses",
    "isResourceAccount",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "mailNickname",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "postalCode",
    "preferredDataLocation",
    "proxyAddresses",
    "showInAddressList",
    "signInSessionsValidFromDateTime",
    "state",
    "streetAddress",
    "usageLocation",
    "userType",
)
USER_PROPERTIES = frozenset({*USER_DEFAULT, *_USER_MORE})
USER_LISTS = frozenset(
    {"businessPhones", "otherMails", "proxyAddresses", "imAddresses", "identities", "assignedLicenses", "assignedPlans"}
)

GROUP_DEFAULT = (
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "creationOptions",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesDomainName",
    "onPremisesLastSyncDateTime",
    "onPremisesNetBiosName",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "preferredDataLocation",
    "preferredLanguage",
    "proxyAddresses",
    "renewedDateTime",
    "resourceBehaviorOptions",
    "resourceProvisioningOptions",
    "securityEnabled",
    "securityIdentifier",
    "theme",
    "visibility",
    "onPremisesProvisioningErrors",
    "serviceProvisioningErrors",
)
GROUP_PROPERTIES = frozenset({*GROUP_DEFAULT, "hideFromAddressLists", "hideFromOutlookClients", "allowExternalSenders"})
GROUP_LISTS = frozenset(
    {
        "creationOptions",
        "groupTypes",
        "proxyAddresses",
        "resourceBehaviorOptions",
        "resourceProvisioningOptions",
        "onPremisesProvisioningErrors",
        "serviceProvisioningErrors",
    }
)
_CACHE_LIMIT = 8  # distinct selections cached per object; clients use one or two

Selection = tuple[str, ...] | None


def parse_select(raw: str | None, *known: frozenset[str], type_name: str = "User") -> Selection:
    """``$select=a,b`` as a tuple (None = default set); an unknown name is Graph's 400 ``Request_BadRequest``."""
    if not raw:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    for name in names:
        if not any(name in k for k in known):
            raise GraphError(
                400,
                "Request_BadRequest",
                f"Could not find a property named '{name}' on type 'Microsoft.DirectoryServices.{type_name}'.",
            )
    return names or None


def _pick(props: dict[str, Any], names: tuple[str, ...], lists: frozenset[str]) -> dict[str, Any]:
    return {n: props.get(n, [] if n in lists else None) for n in names}


def _cached(obj: User | Group, key: tuple[Any, ...], build: Any) -> bytes:
    cache = obj.json_cache
    data = cache.get(key)
    if data is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        data = cache[key] = dumps(build())
    return data


def user_json(user: User, select: Selection = None, *, typed: bool = False) -> bytes:
    names = USER_DEFAULT if select is None else tuple(n for n in select if n in USER_PROPERTIES)

    def build() -> dict[str, Any]:
        head = {"@odata.type": USER_TYPE} if typed else {}
        return {**head, **_pick(user.props, names, USER_LISTS)}

    return _cached(user, ("u", names, typed), build)


def group_json(group: Group, select: Selection = None, *, typed: bool = False) -> bytes:
    names = GROUP_DEFAULT if select is None else tuple(n for n in select if n in GROUP_PROPERTIES)

    def build() -> dict[str, Any]:
        head = {"@odata.type": GROUP_TYPE} if typed else {}
        return {**head, **_pick(group.props, names, GROUP_LISTS)}

    return _cached(group, ("g", names, typed), build)


def object_json(tenant: Tenant, object_id: str, select: Selection) -> bytes | None:
    """A member as ``/members`` lists it: with ``@odata.type``; None if it no longer exists."""
    user = tenant.users.get(object_id)
    if user is not None:
        return user_json(user, select, typed=True)
    group = tenant.groups.get(object_id)
    return group_json(group, select, typed=True) if group is not None else None


def organization(tenant: Tenant) -> dict[str, Any]:
    """``/organization``'s one item (spec §8.2)."""
    initial = tenant.initial_domain
    default = next((d for d in tenant.domains if not d.endswith(".onmicrosoft.com")), initial)
    domains = [
        {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": name == default,
            "isInitial": name == initial,
            "name": name,
            "type": "Managed",
        }
        for name in tenant.domains
    ]
    synced = any(u.props.get("onPremisesSyncEnabled") for u in list(tenant.users.values())[:1000]) or None
    return {
        "id": tenant.id,
        "deletedDateTime": None,
        "businessPhones": [],
        "city": None,
        "country": None,
        "countryLetterCode": tenant.country,
        "createdDateTime": tenant.created or None,
        "displayName": tenant.display_name,
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": synced,
        "preferredLanguage": "nl" if tenant.country == "NL" else "en",
        "tenantType": "AAD",
        "technicalNotificationMails": [],
        "assignedPlans": [],
        "verifiedDomains": domains,
    }

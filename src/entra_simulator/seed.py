"""Load a seed (YAML or JSON; the format is documented in docs/simulator.md) into a :class:`Directory`.

Property names are Microsoft Graph's own (``userPrincipalName``, ``groupTypes``, ...; spec §8.3, §8.4), so a
seed reads like Graph output. Missing ids are derived deterministically (uuid5) so a seed file without ids
gives the same object ids every run. Members may be named by object id, UPN or group display name.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import yaml

from entra_simulator.model import Group, Tenant, User
from entra_simulator.seed_apps import load_apps, load_service_principals
from entra_simulator.store import Directory

USER_DEFAULTS: dict[str, Any] = {"businessPhones": [], "accountEnabled": True, "userType": "Member"}
GROUP_DEFAULTS: dict[str, Any] = {"groupTypes": [], "securityEnabled": True, "mailEnabled": False}


def read_seed(path: str | Path) -> dict[str, Any]:
    """Parse a seed file. JSON is YAML too but parses ~50x faster, so a file that starts with ``{`` uses json."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json") or text.lstrip().startswith("{"):
        return dict(json.loads(text))
    if text.startswith(FLOW_LINES_MARK):
        return read_flow_lines(text)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return dict(yaml.load(text, Loader=loader))  # noqa: S506 - a safe loader


FLOW_LINES_MARK = "# entra_simulator seed: one JSON flow mapping per line\n"


def read_flow_lines(text: str) -> dict[str, Any]:
    """The YAML that ``generate`` writes for big tenants (every value a JSON flow node on its own line),
    read line by line with ``json``: PyYAML needs ~45 s and ~2 GB for 100,000 users, this a few seconds."""
    tenants: list[dict[str, Any]] = []
    items: list[Any] | None = None
    for number, line in enumerate(text.splitlines()[2:], start=3):
        if line.startswith("  - ") and items is not None:
            items.append(json.loads(line[4:]))
        elif line.endswith(":") and line.startswith("  "):
            items = tenants[-1].setdefault(line[2:-1], [])
        elif line.startswith(("- ", "  ")):
            if line.startswith("- "):
                tenants.append({})
            key, _, value = line[2:].partition(": ")
            tenants[-1][key], items = json.loads(value), None
        elif line.strip():
            raise ValueError(f"line {number} of the seed is not in the generated one-line-per-object form")
    return {"tenants": tenants}


def load(seed: dict[str, Any], directory: Directory | None = None) -> Directory:
    directory = directory or Directory()
    for spec in seed.get("tenants", []):
        load_tenant(directory, spec)
    return directory


def derive_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts).lower()))


def load_tenant(directory: Directory, spec: dict[str, Any]) -> Tenant:
    name = spec.get("displayName", "Contoso")
    domains = list(spec.get("domains") or [f"{name.lower().replace(' ', '')}.onmicrosoft.com"])
    tid = str(spec.get("id") or derive_id("tenant", domains[0]))
    tenant = directory.add_tenant(
        Tenant(tid, name, domains, country=spec.get("country", "NL"), created=spec.get("createdDateTime", ""))
    )
    for user_spec in spec.get("users", []):
        directory.add_user(tenant, make_user(tenant, user_spec))
    groups = [make_group(tenant, g) for g in spec.get("groups", [])]
    for group in groups:
        directory.add_group(tenant, group)
    names = {g.display_name.lower(): g.id for g in groups}
    for group, group_spec in zip(groups, spec.get("groups", []), strict=True):
        for ref in group_spec.get("members", []):
            member_id = resolve_ref(tenant, names, ref)
            if member_id:
                directory.add_member(tenant, group, member_id, log=False)
        group.owners = [m for r in group_spec.get("owners", []) if (m := resolve_ref(tenant, names, r))]
    load_apps(directory, tenant, spec.get("applications", []))
    load_service_principals(directory, tenant, spec.get("servicePrincipals", []), names)
    return tenant


def resolve_ref(tenant: Tenant, group_names: dict[str, str], ref: str) -> str | None:
    """A member reference: object id, UPN or e-mail address (case-insensitive), or group display name."""
    if ref in tenant.users or ref in tenant.groups:
        return ref
    user = tenant.find_user(ref) or tenant.find_user_by_mail(ref)
    return user.id if user else group_names.get(ref.lower())


def make_user(tenant: Tenant, spec: dict[str, Any]) -> User:
    props = {**USER_DEFAULTS, **{k: v for k, v in spec.items() if k not in ("password", "directoryRoles")}}
    if props["userType"] == "Guest":
        _guest_defaults(tenant, props)
    upn = props.setdefault("userPrincipalName", f"{props.get('mailNickname', 'user')}@{tenant.initial_domain}")
    uid = str(props.get("id") or derive_id(tenant.id, "user", upn))
    props["id"] = uid
    if props.get("mail") and not props.get("proxyAddresses"):
        props["proxyAddresses"] = [f"SMTP:{props['mail']}"]
    props.setdefault("displayName", " ".join(p for p in (props.get("givenName"), props.get("surname")) if p))
    return User(uid, props, password=spec.get("password"), directory_roles=list(spec.get("directoryRoles", [])))


def guest_upn(mail: str, initial_domain: str) -> str:
    """``alias_homedomain.com#EXT#@tenant.onmicrosoft.com`` (spec §7.2, §8.3)."""
    return f"{mail.replace('@', '_')}#EXT#@{initial_domain}"


def _guest_defaults(tenant: Tenant, props: dict[str, Any]) -> None:
    mail = props.get("mail") or (props.get("otherMails") or [None])[0]
    if mail:
        props.setdefault("userPrincipalName", guest_upn(mail, tenant.initial_domain))
        props.setdefault("otherMails", [mail])
    props.setdefault("creationType", "Invitation")
    props.setdefault("externalUserState", "Accepted")
    props.setdefault("showInAddressList", False)


def make_group(tenant: Tenant, spec: dict[str, Any]) -> Group:
    props = {**GROUP_DEFAULTS, **{k: v for k, v in spec.items() if k not in ("members", "owners")}}
    if "Unified" in props["groupTypes"]:
        props["mailEnabled"] = spec.get("mailEnabled", True)  # Microsoft 365 groups are mail-enabled
        props["securityEnabled"] = spec.get("securityEnabled", False)
    nickname = props.setdefault("mailNickname", "".join(c for c in props["displayName"] if c.isalnum()))
    if props.get("mailEnabled"):
        props.setdefault("mail", f"{nickname}@{tenant.initial_domain}")
    props.setdefault("mail", None)
    if props.get("onPremisesSamAccountName"):
        props.setdefault("onPremisesSyncEnabled", True)
    gid = str(props.get("id") or derive_id(tenant.id, "group", props["displayName"]))
    props["id"] = gid
    return Group(gid, props)

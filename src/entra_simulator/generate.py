"""Large, realistic seed tenants for ``simulator generate`` (issue 3 §1): deterministic from ``seed_value``.

Dutch and international names, departments, job titles, offices and phone numbers; department, location,
project, Microsoft 365 and on-prem-synced groups (optionally nested, never in cycles); B2B guests; and one app
registration with Graph application permissions ``User.Read.All`` + ``GroupMember.Read.All`` so the tenant is
usable at once. Object ids are in the output, and members are referenced by id, so loading 100,000 users is fast.
"""

from __future__ import annotations

import json
import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml

from entra_simulator.names import (
    DEPARTMENTS,
    DUTCH_GIVEN,
    DUTCH_SURNAMES,
    GUEST_DOMAINS,
    INTERNATIONAL_GIVEN,
    INTERNATIONAL_SURNAMES,
    OFFICES,
    PROJECTS,
)
from entra_simulator.seed import FLOW_LINES_MARK

ADMIN_PASSWORD = "Welkom-Admin-2026!"


@dataclass
class Options:
    users: int = 100
    groups: int = 20
    nested: bool = False
    guests: int = 0
    seed_value: int = 1
    redirect_uris: list[str] = field(default_factory=lambda: ["http://localhost/callback"])
    consent: bool = True
    tenant_name: str = "Contoso Nederland"
    domain: str = "contoso-nl"


SPECIAL_LETTERS = str.maketrans({"\u0131": "i", "ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "'": ""})


def _ascii(text: str) -> str:
    """A mail-safe local part: lower case, accents dropped (``Öztürk`` → ``ozturk``)."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(SPECIAL_LETTERS))
    return "".join(c for c in plain if c.isascii() and (c.isalnum() or c in ".-"))


class Generator:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.rng = random.Random(options.seed_value)
        self.initial_domain = f"{options.domain}.onmicrosoft.com"
        self.verified_domain = f"{options.domain.replace('-nl', '')}.nl"
        self.upns: set[str] = set()
        self.suffix: dict[str, int] = {}

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def tenant(self) -> dict[str, Any]:
        users = [self.admin()] + [self.member(i) for i in range(max(self.o.users - 1, 0))]
        guests = [self.guest(i) for i in range(self.o.guests)]
        groups = self.groups(users, guests)
        return {
            "id": self.uuid(),
            "displayName": self.o.tenant_name,
            "domains": [self.initial_domain, self.verified_domain],
            "country": "NL",
            "users": users + guests,
            "groups": groups,
            "applications": [self.app()],
        }

    def admin(self) -> dict[str, Any]:
        upn = f"admin@{self.initial_domain}"
        self.upns.add(upn)
        return {
            "id": self.uuid(),
            "userPrincipalName": upn,
            "displayName": "Tenant Admin",
            "givenName": "Tenant",
            "surname": "Admin",
            "mail": upn,
            "jobTitle": "IT Manager",
            "department": "IT",
            "password": ADMIN_PASSWORD,
            "directoryRoles": ["Global Administrator"],
        }

    def _name(self) -> tuple[str, str]:
        dutch = self.rng.random() < 0.75
        given = self.rng.choice(DUTCH_GIVEN if dutch else INTERNATIONAL_GIVEN)
        surname = self.rng.choice(DUTCH_SURNAMES if dutch or self.rng.random() < 0.3 else INTERNATIONAL_SURNAMES)
        return given, surname

    def _unique(self, local: str, domain: str) -> str:
        """``jan.jansen@``, then ``jan.jansen2@``, ``jan.jansen3@`` ... as admins number duplicates."""
        base = f"{local}@{domain}"
        n = self.suffix.get(base, 0)
        upn = base
        while upn in self.upns:
            n += 1
            upn = f"{local}{n}@{domain}"
        self.suffix[base] = max(n, 1)
        self.upns.add(upn)
        return upn

    def member(self, i: int) -> dict[str, Any]:
        rng = self.rng
        given, surname = self._name()
        upn = self._unique(_ascii(f"{given}.{surname.replace(' ', '')}"), self.verified_domain)
        department = rng.choice(list(DEPARTMENTS))
        office = rng.choice(list(OFFICES))
        user: dict[str, Any] = {
            "id": self.uuid(),
            "userPrincipalName": upn,
            "displayName": f"{given} {surname}",
            "givenName": given,
            "surname": surname,
            "mail": upn,
            "mailNickname": upn.split("@")[0],
            "jobTitle": rng.choice(DEPARTMENTS[department]),
            "department": department,
            "officeLocation": office,
            "city": office,
            "country": "Nederland",
            "usageLocation": "NL",
            "preferredLanguage": "nl-NL" if rng.random() < 0.8 else "en-US",
            "employeeId": f"{100000 + i}",
            "businessPhones": [f"+31 {OFFICES[office]} {rng.randint(1000000, 9999999)}"],
            "mobilePhone": f"+31 6 {rng.randint(10000000, 99999999)}",
            "accountEnabled": rng.random() > 0.02,
            "password": f"Welkom-{rng.randint(1000, 9999)}!",
        }
        if rng.random() < 0.05:
            user["otherMails"] = [f"{upn.split('@')[0]}@{rng.choice(GUEST_DOMAINS[3:5])}"]
        return user

    def guest(self, i: int) -> dict[str, Any]:
        given, surname = self._name()
        domain = self.rng.choice(GUEST_DOMAINS)
        mail = self._unique(_ascii(f"{given}.{surname.replace(' ', '')}"), domain)
        pending = self.rng.random() < 0.1
        return {
            "id": self.uuid(),
            "userType": "Guest",
            "userPrincipalName": f"{mail.replace('@', '_')}#EXT#@{self.initial_domain}",
            "displayName": f"{given} {surname} ({domain.split('.')[0].capitalize()})",
            "givenName": given,
            "surname": surname,
            "mail": mail,
            "otherMails": [mail],
            "externalUserState": "PendingAcceptance" if pending else "Accepted",
            "password": f"Gast-{self.rng.randint(1000, 9999)}!",
        }

    def groups(self, users: list[dict[str, Any]], guests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Departments and offices first (by attribute), then projects and M365 teams with random members."""
        rng = self.rng
        specs: list[dict[str, Any]] = []
        by_department: dict[str, list[str]] = {}
        by_office: dict[str, list[str]] = {}
        for user in users[1:]:
            by_department.setdefault(user["department"], []).append(user["id"])
            by_office.setdefault(user["officeLocation"], []).append(user["id"])
        if self.o.groups <= 0:
            return []
        specs.append(self.group("Alle medewerkers", [u["id"] for u in users], sam="ALL-STAFF"))
        for name, members in sorted(by_department.items()):
            sam = f"DEP-{_ascii(name.replace(' ', ''))[:12].upper()}"
            specs.append(self.group(f"Afdeling {name}", members, sam=sam))
        for name, members in sorted(by_office.items()):
            specs.append(self.group(f"Vestiging {name}", members))
        n = 0
        while len(specs) < self.o.groups:
            n += 1
            kind = rng.random()
            size = min(len(users), int(rng.paretovariate(1.2) * 5))
            members = [u["id"] for u in rng.sample(users, size)]
            if guests and rng.random() < 0.3:
                members += [g["id"] for g in rng.sample(guests, min(len(guests), rng.randint(1, 5)))]
            project = f"{rng.choice(PROJECTS)} {n}"
            if kind < 0.35:
                specs.append(self.group(f"Project {project}", members, unified=True))
            elif kind < 0.5:
                specs.append(self.group(f"Team {project}", members, unified=True, team=True))
            elif kind < 0.65:
                specs.append(self.group(f"GG-{project.replace(' ', '-')}", members, sam=f"GG-{n:04d}"))
            else:
                specs.append(self.group(f"Rol {project}", members))
        specs = specs[: self.o.groups]
        if self.o.nested:
            self.nest(specs)
        return specs

    def nest(self, specs: list[dict[str, Any]]) -> None:
        """A group only contains groups listed after it, so nesting never forms a cycle."""
        rng = self.rng
        for index, spec in enumerate(specs):
            later = specs[index + 1 :]
            if later and rng.random() < 0.25:
                spec["members"] += [g["id"] for g in rng.sample(later, min(len(later), rng.randint(1, 3)))]

    def group(
        self, name: str, members: list[str], *, unified: bool = False, team: bool = False, sam: str | None = None
    ) -> dict[str, Any]:
        nickname = _ascii(name.replace(" ", "-").replace(".", ""))[:64] or "group"
        spec: dict[str, Any] = {
            "id": self.uuid(),
            "displayName": name,
            "description": f"{name} ({'Microsoft 365' if unified else 'security'} group)",
            "mailNickname": nickname,
            "groupTypes": ["Unified"] if unified else [],
            "securityEnabled": not unified,
            "mailEnabled": unified,
            "members": list(dict.fromkeys(members)),
        }
        if team:
            spec["resourceProvisioningOptions"] = ["Team"]
        if sam:
            spec["onPremisesSamAccountName"] = sam
            spec["onPremisesSyncEnabled"] = True
        return spec

    def app(self) -> dict[str, Any]:
        rng = self.rng
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        secret = "".join(rng.choice(alphabet) for _ in range(34)) + "Q8~._-"
        return {
            "appId": self.uuid(),
            "displayName": "koppel",
            "signInAudience": "AzureADMultipleOrgs",
            "secrets": [{"value": secret, "displayName": "generated"}],
            "redirectUris": list(self.o.redirect_uris),
            "graphPermissions": {
                "application": ["User.Read.All", "GroupMember.Read.All"],
                "delegated": ["User.Read", "openid", "profile", "email", "offline_access"],
            },
            "groupMembershipClaims": "SecurityGroup",
            "optionalClaims": {"idToken": [{"name": "groups", "additionalProperties": []}]},
            "adminConsent": self.o.consent,
        }


def generate(options: Options) -> dict[str, Any]:
    return {"tenants": [Generator(options).tenant()]}


BLOCK_YAML_LIMIT = 5000  # above this many objects, YAML is written one JSON object per line (fast, still YAML)


def to_yaml(seed: dict[str, Any]) -> str:
    """YAML: block style for small tenants; one flow mapping per user/group line for big ones (libyaml's
    emitter needs ~25 s for 100,000 users, this takes under a second; both load with any YAML parser)."""
    objects = sum(len(t.get("users", [])) + len(t.get("groups", [])) for t in seed["tenants"])
    if objects <= BLOCK_YAML_LIMIT:
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        return str(yaml.dump(seed, Dumper=dumper, allow_unicode=True, sort_keys=False, width=120))
    lines = [FLOW_LINES_MARK.rstrip("\n"), "tenants:"]
    for tenant in seed["tenants"]:
        head = [(k, v) for k, v in tenant.items() if not isinstance(v, list) or k == "domains"]
        for index, (key, value) in enumerate(head):
            lines.append(f"{'- ' if index == 0 else '  '}{key}: {json.dumps(value, ensure_ascii=False)}")
        for key in ("users", "groups", "applications", "servicePrincipals"):
            if key in tenant:
                lines.append(f"  {key}:")
                lines += [f"  - {json.dumps(item, ensure_ascii=False)}" for item in tenant[key]]
    return "\n".join(lines) + "\n"

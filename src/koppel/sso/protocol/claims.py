"""Upstream claims → one ``UpstreamIdentity`` (OIDC Core §5.1; Entra ID token, spec §7.2).

Generic issuers get a configurable mapping (issue §4: ``--claim-mapping email=upn``); Entra
tokens are read by their documented names: ``oid`` is the immutable user id (never ``sub``,
which is pairwise per app, §7.2) and ``tid`` the tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from koppel.errors import InvalidInput
from koppel.sso.protocol.entra import has_groups_overage

DEFAULT_MAPPING: dict[str, str] = {
    "subject": "sub",
    "email": "email",
    "email_verified": "email_verified",
    "name": "name",
    "given_name": "given_name",
    "family_name": "family_name",
    "username": "preferred_username",
    "groups": "groups",
}
ENTRA_MAPPING = {**DEFAULT_MAPPING, "subject": "oid"}


@dataclass(frozen=True)
class UpstreamIdentity:
    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    username: str | None = None
    tenant_id: str | None = None
    groups: tuple[str, ...] = ()
    groups_overage: bool = False
    amr: tuple[str, ...] = ("pwd",)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def email_domain(self) -> str | None:
        return self.email.rsplit("@", 1)[1].lower() if self.email and "@" in self.email else None


def parse_claim_mapping(pairs: list[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["email=upn", "groups=roles"]`` → a mapping; unknown koppel fields are an admin error."""
    items = pairs.items() if isinstance(pairs, Mapping) else [_split(p) for p in pairs or []]
    mapping = {}
    for key, claim in items:
        if key not in DEFAULT_MAPPING:
            raise InvalidInput(
                f"claim mapping {key!r}: koppel fields are {', '.join(DEFAULT_MAPPING)}", field="claim_mapping"
            )
        mapping[key] = claim
    return mapping


def _split(pair: str) -> tuple[str, str]:
    key, sep, claim = pair.partition("=")
    if not sep or not key.strip() or not claim.strip():
        raise InvalidInput(f"claim mapping {pair!r} must look like field=claim", field="claim_mapping")
    return key.strip(), claim.strip()


def identity_from_claims(claims: Mapping[str, Any], *, mapping: Mapping[str, str] | None = None) -> UpstreamIdentity:
    m = {**DEFAULT_MAPPING, **(mapping or {})}
    subject = _text(claims.get(m["subject"]))
    if not subject:
        raise InvalidInput(f"the ID token has no {m['subject']!r} claim to identify the user")
    email = _text(claims.get(m["email"]))
    username = _text(claims.get(m["username"])) or _text(claims.get("upn"))  # v1 access tokens: upn (§7.3)
    if email is None and "@" in (username or ""):
        email = username  # Entra members: the UPN is the address (§7.2)
    amr = claims.get("amr")
    return UpstreamIdentity(
        issuer=str(claims.get("iss", "")),
        subject=subject,
        email=email.lower() if email else None,
        email_verified=claims.get(m["email_verified"]) in (True, "true"),
        name=_text(claims.get(m["name"])),
        given_name=_text(claims.get(m["given_name"])),
        family_name=_text(claims.get(m["family_name"])),
        username=username,
        tenant_id=_text(claims.get("tid")),
        groups=_groups(claims.get(m["groups"])),
        groups_overage=has_groups_overage(claims),
        amr=tuple(str(a) for a in amr) if isinstance(amr, list) and amr else ("pwd",),
        raw=claims,
    )


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def _groups(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()

"""Role evaluation on plain data: groups → roles (seed 001's "koppelvlaktabel", issue 5 §3).

A mapping row names a group by whatever key the source uses (Entra object id, or the
sAMAccountName / display name when the token carries names). A user gets every role whose
group they are in; with no match, the organization's default role, or a denial when the
organization chose "deny when nothing matches".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class GroupRef:
    """A group as the login saw it: its key (id or name) and, where known, another name for it."""

    key: str
    name: str | None = None


@dataclass(frozen=True)
class RoleDecision:
    roles: tuple[str, ...]
    matched_groups: tuple[str, ...]
    denied: bool = False

    @property
    def reason(self) -> str | None:
        return (
            "no role mapping matches the user's groups and the organization denies unmapped users"
            if (self.denied)
            else None
        )


def evaluate_roles(
    *,
    groups: Iterable[GroupRef],
    mappings: Iterable[tuple[str, str]],
    default_role: str | None,
    deny_unmapped: bool,
) -> RoleDecision:
    """``mappings`` are ``(group_key, role)``; keys compare case-insensitively (AD names are)."""
    by_key: dict[str, list[str]] = {}
    for key, role in mappings:
        by_key.setdefault(key.casefold(), []).append(role)
    roles: dict[str, None] = {}
    matched: list[str] = []
    for group in groups:
        hits = _roles_for(group, by_key)
        if hits:
            matched.append(group.key)
            roles.update(dict.fromkeys(hits))
    if roles:
        return RoleDecision(roles=tuple(sorted(roles)), matched_groups=tuple(matched))
    if deny_unmapped:
        return RoleDecision(roles=(), matched_groups=(), denied=True)
    return RoleDecision(roles=(default_role,) if default_role else (), matched_groups=())


def _roles_for(group: GroupRef, by_key: Mapping[str, list[str]]) -> list[str]:
    names = [group.key] + ([group.name] if group.name else [])
    return [role for n in names for role in by_key.get(n.casefold(), [])]

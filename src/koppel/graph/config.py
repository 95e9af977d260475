"""What an Entra connection's ``settings`` mean for Graph sync (issue 4 §2, §4, §5, §6).

Declared once here; ``service.add_entra`` writes them, the engine and scheduler read them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DEFAULT_INTERVAL_SECONDS = 300  # issue 4 §6: delta makes a 5-minute interval cheap
DEFAULT_GUARD_PERCENT = 20.0  # issue 4 §5: 20% of the connection's users ...
DEFAULT_GUARD_MAX = 500  # ... or 500, whichever is smaller
LOCALES = ("nl", "en")


@dataclass(frozen=True)
class EntraConfig:
    tenant_id: str
    group_ids: list[str]
    admin_email: str | None = None
    transitive: bool = False
    locale: str = "nl"
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    guard_percent: float = DEFAULT_GUARD_PERCENT
    guard_max: int = DEFAULT_GUARD_MAX
    hard_delete_after_days: int | None = None  # default off
    tenant_input: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: dict[str, Any]) -> EntraConfig:
        return cls(
            tenant_id=str(settings.get("tenant_id", "")),
            group_ids=[str(g) for g in settings.get("group_ids") or []],
            admin_email=settings.get("admin_email") or None,
            transitive=bool(settings.get("transitive", False)),
            locale=str(settings.get("locale") or "nl"),
            interval_seconds=int(settings.get("sync_interval_seconds") or DEFAULT_INTERVAL_SECONDS),
            guard_percent=float(settings.get("guard_percent", DEFAULT_GUARD_PERCENT)),
            guard_max=int(settings.get("guard_max", DEFAULT_GUARD_MAX)),
            hard_delete_after_days=_optional_int(settings.get("hard_delete_after_days")),
            tenant_input=str(settings.get("tenant_input") or settings.get("tenant_id", "")),
        )

    def to_settings(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "tenant_input": self.tenant_input,
            "group_ids": list(self.group_ids),
            "admin_email": self.admin_email,
            "transitive": self.transitive,
            "locale": self.locale,
            "sync_interval_seconds": self.interval_seconds,
            "guard_percent": self.guard_percent,
            "guard_max": self.guard_max,
            "hard_delete_after_days": self.hard_delete_after_days,
        }

    def guard_threshold(self, active_users: int) -> int:
        """How many deactivations one run may make before it waits for approval (issue 4 §5)."""
        share = math.floor(active_users * self.guard_percent / 100)
        return max(1, min(share, self.guard_max))


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "", 0) else int(value)

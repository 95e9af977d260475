"""Everything one simulator process holds: the directory, signing keys, settings, codes, sessions, faults."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from entra_simulator.faults import FaultTable
from entra_simulator.keys import KeySet
from entra_simulator.store import Directory


@dataclass
class Settings:
    """Behaviour switches; the defaults are the real service's (spec §7.4, §8.5)."""

    group_claim_limit: int = 200
    unsynced_groups_as_ids: bool = True  # §7.4: field reports say object ids, the doc says omitted
    delta_token_ttl_seconds: float = 7 * 24 * 3600
    access_token_lifetime: int = 3599
    app_token_lifetime: int = 86399
    page_size: int = 100
    allow_pick: bool = True  # the login page lists users to pick without a password (a simulator convenience)
    delta_page_size: int = 100


class Bounded(dict[str, dict[str, Any]]):
    """Codes, tokens, sessions: at most ``limit`` kept, the oldest dropped first.

    The real service expires them (codes after minutes, refresh tokens after days); a bound keeps
    a long-running simulator's memory flat under load without a sweeper thread.
    """

    limit = 200_000

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        super().__setitem__(key, value)
        while len(self) > self.limit:
            del self[next(iter(self))]


@dataclass
class Simulator:
    directory: Directory
    settings: Settings = field(default_factory=Settings)
    keys: KeySet = field(default_factory=KeySet)
    faults: FaultTable = field(default_factory=FaultTable)
    clock: Callable[[], float] = time.time
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    codes: Bounded = field(default_factory=Bounded)
    refresh_tokens: Bounded = field(default_factory=Bounded)
    sessions: Bounded = field(default_factory=Bounded)  # ESTSAUTH cookie → signed-in user
    pending: Bounded = field(default_factory=Bounded)  # login page context → authorize request
    delta_not_before: dict[str, float] = field(default_factory=dict)  # tenant id → tokens older are expired
    resync_required: set[str] = field(default_factory=set)  # tenant ids whose next delta call gets 410

    def now(self) -> int:
        return int(self.clock())

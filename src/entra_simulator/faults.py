"""Fault rules per tenant and endpoint: throttling, 5xx, latency, dropped connections, truncated bodies.

Issue 3 §4; the 429 shape follows spec §8.1 (Graph ``TooManyRequests`` with ``Retry-After``) and the token
endpoint's OAuth shape (§4.4). Whether a rule fires is decided by its own ``random.Random(seed)``, so the same
seed and request sequence give the same faults on every run.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("throttle", "error", "latency", "drop", "truncate")

ENDPOINTS = {
    "graph": "/v1.0/*",
    "token": "/*/oauth2/v2.0/token",
    "authorize": "/*/oauth2/v2.0/authorize",
    "discovery": "/*/.well-known/openid-configuration",
    "keys": "/*/discovery/*keys",
    "members": "/v1.0/groups/*/*embers*",
    "delta": "/v1.0/*delta*",
    "users": "/v1.0/users*",
    "groups": "/v1.0/groups*",
    "adminconsent": "/*adminconsent",
    "*": "/*",
}


@dataclass
class FaultRule:
    kind: str
    tenant: str = "*"
    endpoint: str = "*"
    status: int = 0
    retry_after: int = 1
    latency_ms: int = 0
    rate: float = 1.0
    count: int | None = None
    seed: int = 0
    id: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        self.status = self.status or {"throttle": 429, "error": 503}.get(self.kind, 0)
        self._rng = random.Random(self.seed)

    @property
    def pattern(self) -> str:
        return ENDPOINTS.get(self.endpoint, self.endpoint)

    def matches(self, tenant_id: str | None, path: str) -> bool:
        if self.tenant not in ("*", tenant_id):
            return False
        return fnmatch.fnmatchcase(path, self.pattern)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class FaultTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def clear(self, tenant: str | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if tenant not in (None, r.tenant)]
            return before - len(self._rules)

    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def pick(self, tenant_id: str | None, path: str) -> FaultRule | None:
        """The first matching rule that fires for this request (consuming one of its ``count``)."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(tenant_id, path) or (rule.count is not None and rule.count <= 0):
                    continue
                if rule.rate < 1.0 and rule._rng.random() >= rule.rate:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

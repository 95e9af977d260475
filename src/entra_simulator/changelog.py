"""Per-tenant change log behind delta queries (spec §8.5).

Every change to a user, group or membership appends an entry with a monotonically increasing sequence number.
A delta token names a sequence number; a delta round from ``a`` to ``b`` replays the log slice ``(a, b]``.
The initial round walks ``order`` (every object ever created, in creation order) and keeps those created at or
before ``b`` and not deleted, so pages stay stable while the directory changes underneath.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

USER = "user"
GROUP = "group"


@dataclass(slots=True, frozen=True)
class Change:
    seq: int
    kind: str  # USER | GROUP
    object_id: str
    op: str  # "changed" | "deleted" | "member_add" | "member_remove"
    member_id: str | None = None
    props: tuple[str, ...] = ()  # the properties an update changed (for ``Prefer: return=minimal``)


@dataclass
class ChangeLog:
    seq: int = 0
    entries: list[Change] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    order: dict[str, list[str]] = field(default_factory=lambda: {USER: [], GROUP: []})
    created_seq: dict[str, int] = field(default_factory=dict)
    deleted_seq: dict[str, int] = field(default_factory=dict)

    def created(self, kind: str, object_id: str) -> int:
        self.order[kind].append(object_id)
        seq = self.record(kind, object_id, "changed")
        self.created_seq[object_id] = seq
        self.deleted_seq.pop(object_id, None)
        return seq

    def record(
        self, kind: str, object_id: str, op: str, member_id: str | None = None, props: tuple[str, ...] = ()
    ) -> int:
        self.seq += 1
        self.entries.append(Change(self.seq, kind, object_id, op, member_id, props))
        self.seqs.append(self.seq)
        if op == "deleted":
            self.deleted_seq[object_id] = self.seq
        return self.seq

    def since(self, after: int, upto: int) -> list[Change]:
        lo = bisect.bisect_right(self.seqs, after)
        hi = bisect.bisect_right(self.seqs, upto)
        return self.entries[lo:hi]

    def exists_at(self, object_id: str, upto: int) -> bool:
        created = self.created_seq.get(object_id)
        if created is None or created > upto:
            return False
        deleted = self.deleted_seq.get(object_id)
        return deleted is None or deleted > upto

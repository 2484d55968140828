"""Invalidation without scanning the keyspace (seed §2.4.2): generation counters per tag.

Every entry records, when written, the generation of each of its tags (`search`, `user:<id>`,
`platform:<p>`, `content:<id>`, ...). `invalidate("user:123:*")` bumps the generation of tag
`user:123` — O(1) — and every entry written before is dead at its next read, in L1 and L2 alike.
`mark_stale` bumps a second, "stale" generation: such entries are recomputed at the next query (the
seed's lazy trigger) but still serve as a fallback if L3 fails. A pattern must be `<tag>:*` or `*`;
anything needing a scan (`*foo*`, `user:*:x`) is refused.

Triggers (seed §2.4.2): content update and availability change → immediate; preference change →
lazy; model update → gradual (`ModelRollout` sends a stable, configured share of users to the new
model version first; entries are keyed by model version, so both versions' entries coexist).
"""
from __future__ import annotations

import hashlib
import threading
from typing import Callable, Iterable

from mgw.errors import DataError

ALL = "all"  # tag carried by every entry; pattern "*"


def tag_of(pattern: str) -> str:
    """`user:123:*` → `user:123`; `search:*` → `search`; `*` → `all`."""
    if not isinstance(pattern, str) or not pattern:
        raise DataError(f"invalidation pattern must be a non-empty string, got {pattern!r}")
    if pattern == "*":
        return ALL
    if not pattern.endswith(":*") or "*" in pattern[:-2] or "?" in pattern or "[" in pattern:
        raise DataError(f"invalidation pattern {pattern!r} is not '<tag>:*' or '*' "
                        "(tag patterns only: anything else would need a keyspace scan)")
    return pattern[:-2]


class Generations:
    """Thread-safe tag → generation counters (in process)."""

    def __init__(self) -> None:
        self._gen: dict[str, int] = {}
        self._stale: dict[str, int] = {}
        self._lock = threading.Lock()

    def current(self, tags: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
        with self._lock:
            return ({t: self._gen.get(t, 0) for t in tags}, {t: self._stale.get(t, 0) for t in tags})

    def valid(self, tags: dict[str, int]) -> bool:
        g = self._gen
        return all(g.get(t, 0) == v for t, v in tags.items())

    def fresh(self, stale_tags: dict[str, int]) -> bool:
        s = self._stale
        return all(s.get(t, 0) == v for t, v in stale_tags.items())

    def bump(self, tag: str) -> int:
        with self._lock:
            self._gen[tag] = self._gen.get(tag, 0) + 1
            return self._gen[tag]

    def bump_stale(self, tag: str) -> int:
        with self._lock:
            self._stale[tag] = self._stale.get(tag, 0) + 1
            return self._stale[tag]


class ModelRollout:
    """Which model version serves a user. During a rollout `fraction` of users (by a stable hash
    of the user id, or of the query bucket for anonymous traffic) get `candidate`."""

    def __init__(self, version: str = "v0", salt: str = "mgw-cache-rollout"):
        self.version = version
        self.candidate: str | None = None
        self.fraction = 0.0
        self.salt = salt

    def start(self, candidate: str, fraction: float) -> None:
        if not 0 <= fraction <= 1:
            raise DataError(f"rollout fraction must be in [0, 1], got {fraction!r}")
        self.candidate, self.fraction = candidate, float(fraction)

    def advance(self, fraction: float) -> None:
        if self.candidate is None:
            raise DataError("no model rollout in progress")
        self.start(self.candidate, fraction)
        if self.fraction >= 1:
            self.version, self.candidate, self.fraction = self.candidate, None, 0.0

    def version_for(self, identity: str) -> str:
        if self.candidate is None or self.fraction <= 0:
            return self.version
        h = int.from_bytes(hashlib.sha256(f"{self.salt}:{identity}".encode()).digest()[:8], "big")
        return self.candidate if h / 2**64 < self.fraction else self.version


class Invalidator:
    """The seed's triggers on top of `Generations`. `on_immediate` callbacks let levels free memory
    at once (the tiered cache sweeps its small L1; L2 entries die at their next read)."""

    def __init__(self, generations: Generations | None = None, rollout: ModelRollout | None = None):
        self.generations = generations or Generations()
        self.rollout = rollout or ModelRollout()
        self.on_immediate: list[Callable[[str], None]] = []

    def invalidate(self, pattern: str) -> None:
        tag = tag_of(pattern)
        self.generations.bump(tag)
        for cb in self.on_immediate:
            cb(tag)

    def mark_stale(self, pattern: str) -> None:
        self.generations.bump_stale(tag_of(pattern))

    # --------------------------------------------------------------- triggers (seed §2.4.2)
    def content_update(self, content_ids: Iterable[str] | None = None) -> None:
        """Immediate. New content (ids None) can match any search → all searches; changed titles → their tags."""
        if content_ids is None:
            self.invalidate("search:*")
            return
        for cid in content_ids:
            self.invalidate(f"content:{cid}:*")

    def availability_change(self, content_id: str, platform: str) -> None:
        """Immediate. Entries holding the title, and searches whose filters the title may now (not) pass."""
        self.invalidate(f"content:{content_id}:*")
        self.invalidate(f"platform:{platform}:*")
        self.invalidate("platform:unfiltered:*")

    def preference_change(self, user: str) -> None:
        """Lazy: that user's entries are recomputed at their next query."""
        self.mark_stale(f"user:{user}:*")

    def model_update(self, new_version: str, fraction: float = 0.1) -> None:
        """Gradual: `fraction` of users move to `new_version` first; call rollout.advance() to widen."""
        self.rollout.start(new_version, fraction)

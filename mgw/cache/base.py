"""What every cache level stores (`Entry`) and the one serialisation all levels share.

Values are JSON-serialised once, at put, so a value Redis could not hold fails at put
(`SerializationError`) and never later at get, and the in-process L2 behaves exactly like Redis.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from mgw.errors import DataError, MgwError


class SerializationError(DataError):
    """A value that cannot be cached (not JSON-serialisable, NaN/inf floats)."""


class CacheBackendError(MgwError, ConnectionError):
    """The L2 backend (Redis) is unreachable or answered with an error."""


def dumps(value: Any) -> bytes:
    """JSON bytes of `value`; raises SerializationError instead of TypeError/ValueError."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True).encode()
    except (TypeError, ValueError) as e:
        raise SerializationError(f"cache value is not JSON-serialisable: {e}") from None


def loads(raw: bytes) -> Any:
    return json.loads(raw)


@dataclass
class Entry:
    """One cached value. `tags` maps each invalidation tag to its generation when written;
    `stale_tags` the same for lazy (mark-stale) generations. Times are seconds on the cache's clock."""

    value: Any
    created_at: float
    expires_at: float
    tags: dict[str, int] = field(default_factory=dict)
    stale_tags: dict[str, int] = field(default_factory=dict)
    nbytes: int = 0
    kind: str = "search"

    def ttl(self) -> float:
        return self.expires_at - self.created_at

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def to_bytes(self) -> bytes:
        """Envelope for L2 backends: the value plus its metadata, one JSON document."""
        return dumps({"v": self.value, "c": self.created_at, "e": self.expires_at if math.isfinite(self.expires_at)
                      else None, "t": self.tags, "s": self.stale_tags, "k": self.kind})

    @classmethod
    def from_bytes(cls, raw: bytes) -> Entry:
        d = loads(raw)
        exp = d["e"] if d["e"] is not None else math.inf
        return cls(value=d["v"], created_at=d["c"], expires_at=exp, tags=d.get("t", {}),
                   stale_tags=d.get("s", {}), nbytes=len(raw), kind=d.get("k", "search"))

"""Feature flags and gradual rollout (seed §4.2.2): a feature is on for a user when the salted hash of
(feature, user) falls below its rollout fraction, so a user's assignment is stable across requests and
processes, independent between features, and grows monotonically with the fraction."""
from __future__ import annotations

import hashlib

from mgw.errors import DataError


def bucket(salt: str, feature: str, user: str) -> float:
    """A uniform number in [0, 1) from sha256(salt:feature:user)."""
    h = hashlib.sha256(f"{salt}:{feature}:{user}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


class Flags:
    def __init__(self, fractions: dict[str, float], salt: str):
        for name, f in fractions.items():
            if not 0.0 <= f <= 1.0:
                raise DataError(f"serve.rollout.{name} must be in [0, 1], got {f!r}")
        self.fractions, self.salt = dict(fractions), salt

    def enabled(self, feature: str, user: str | None) -> bool:
        """Anonymous requests get the default (off) unless the feature is fully rolled out."""
        f = self.fractions.get(feature, 0.0)
        if f >= 1.0:
            return True
        if user is None or f <= 0.0:
            return False
        return bucket(self.salt, feature, user) < f

    def for_user(self, user: str | None) -> dict[str, bool]:
        return {name: self.enabled(name, user) for name in sorted(self.fractions)}

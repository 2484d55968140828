"""Deterministic, salted user bucketing and feature flags with rollout fractions (seed §4.2.2).

The seed's `shouldEnableFeature` hashes the bare user id (`hashCode(userId) % 100`). Two problems we fix:
without a salt the *same* users land in the treatment of every experiment (carry-over between tests), and
`% 100` gives only 1 % rollout steps. Here the bucket is the first 8 bytes of SHA-256 over
`salt:feature:user_id`, mapped to [0, 1): stable across runs, processes, machines and Python's hash
randomisation, independent between features, and fine-grained. `java_hash_code` reproduces the seed's
hash so the two can be compared (see `spec_bucket`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from mgw.errors import DataError

_SCALE = float(2**64)


def bucket(user_id: object, feature: str, salt: str) -> float:
    """User's position in [0, 1) for this feature and salt; same inputs → same value everywhere."""
    key = f"{salt}:{feature}:{user_id}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / _SCALE


def buckets(user_ids: Iterable[object], feature: str, salt: str) -> np.ndarray:
    """`bucket` for many users, as a float64 array."""
    return np.fromiter((bucket(u, feature, salt) for u in user_ids), dtype=np.float64)


def java_hash_code(s: str) -> int:
    """Java's String.hashCode (what the seed's TypeScript `hashCode` usually implements), as a signed int32."""
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - 2**32 if h >= 2**31 else h


def spec_bucket(user_id: object) -> float:
    """The seed's unsalted bucket: (|hashCode(userId)| % 100) / 100, in 1 % steps."""
    return (abs(java_hash_code(str(user_id))) % 100) / 100


@dataclass
class FeatureFlags:
    """Seed §4.2.2 `FeatureFlags`: on/off switches plus per-feature rollout fractions (0.0–1.0)."""

    rollout: dict[str, float] = field(default_factory=dict)
    enabled: dict[str, bool] = field(default_factory=dict)  # a feature switched off here is off for everyone
    salt: str = "mgw-ab-v1"

    def __post_init__(self) -> None:
        for name, frac in self.rollout.items():
            if not (0.0 <= float(frac) <= 1.0):
                raise DataError(f"rollout[{name!r}] must be in [0, 1] (got {frac})")

    @classmethod
    def from_params(cls, params) -> "FeatureFlags":
        """From `params.abtest` (rollout dict and salt)."""
        ab = getattr(params, "abtest", params)
        return cls(rollout=dict(ab.rollout), salt=ab.salt)

    def should_enable_feature(self, user_id: object, feature: str) -> bool:
        """True when the user is inside the feature's rollout fraction. Unknown features are off (fraction 0)."""
        if not self.enabled.get(feature, True):
            return False
        return bucket(user_id, feature, self.salt) < float(self.rollout.get(feature, 0.0))

    def enabled_mask(self, user_ids: Sequence[object], feature: str) -> np.ndarray:
        if not self.enabled.get(feature, True):
            return np.zeros(len(user_ids), dtype=bool)
        return buckets(user_ids, feature, self.salt) < float(self.rollout.get(feature, 0.0))


def should_enable_feature(user_id: object, feature: str, rollout: Mapping[str, float], salt: str = "mgw-ab-v1") -> bool:
    """Function form of seed §4.2.2 `shouldEnableFeature(userId, feature)` with an explicit salt."""
    return FeatureFlags(rollout=dict(rollout), salt=salt).should_enable_feature(user_id, feature)


def assign_arms(user_ids: Sequence[object], arms: Sequence[str], weights: Sequence[float] | None = None,
                experiment: str = "experiment", salt: str = "mgw-ab-v1") -> np.ndarray:
    """Arm index per user for an A/B/n experiment; weights are traffic shares (default equal).

    Cumulative weights cut [0, 1) into arm intervals, so growing the last arm's share only moves users
    *into* it — a rollout ramp never reshuffles users already exposed."""
    if len(arms) < 2:
        raise DataError("an experiment needs at least two arms")
    w = np.full(len(arms), 1.0 / len(arms)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(arms),) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise DataError(f"weights must be {len(arms)} non-negative shares summing to 1 (got {list(w)})")
    cuts = np.cumsum(w)[:-1]
    return np.searchsorted(cuts, buckets(user_ids, experiment, salt), side="right")

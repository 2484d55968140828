"""The seed's auto-tuning rule (§2.4.3), applied once per interval to one level:
grow 20% when hit rate < 0.8 and memory pressure < 0.7; shrink 10% when evictions > 100/min and
pressure > 0.9. Pressure is bytes used / the level's byte budget (`maxBytes`), so growing the entry
limit is only allowed while memory is free."""
from __future__ import annotations

import math
from dataclasses import dataclass

from mgw.cache.metrics import Snapshot


@dataclass(frozen=True)
class TuneDecision:
    action: str  # grow | shrink | keep
    old_size: int
    new_size: int
    snapshot: Snapshot


class AutoTuner:
    def __init__(self, level, *, interval_s: float = 60.0, min_size: int = 1, max_size: int | None = None,
                 hit_target: float = 0.8, grow_below_pressure: float = 0.7, shrink_evictions_per_min: float = 100,
                 shrink_above_pressure: float = 0.9, grow: float = 1.2, shrink: float = 0.9):
        self.level = level
        self.interval_s = interval_s
        self.min_size, self.max_size = min_size, max_size
        self.hit_target, self.grow_below_pressure = hit_target, grow_below_pressure
        self.shrink_evictions_per_min, self.shrink_above_pressure = shrink_evictions_per_min, shrink_above_pressure
        self.grow, self.shrink = grow, shrink
        self._last = level.clock()
        self.history: list[TuneDecision] = []

    def maybe_step(self) -> TuneDecision | None:
        """Step when an interval has passed since the last step (call it from the request path)."""
        if self.level.clock() - self._last < self.interval_s:
            return None
        return self.step()

    def step(self) -> TuneDecision:
        snap = self.level.metrics.roll(self.level.memory_pressure())
        self._last = self.level.clock()
        old = self.level.max_size
        new, action = old, "keep"
        if snap.hit_rate is not None and snap.hit_rate < self.hit_target and snap.memory_pressure < self.grow_below_pressure:
            new, action = math.ceil(old * self.grow), "grow"
        elif snap.eviction_rate > self.shrink_evictions_per_min and snap.memory_pressure > self.shrink_above_pressure:
            new, action = max(1, math.floor(old * self.shrink)), "shrink"
        new = max(self.min_size, new if self.max_size is None else min(self.max_size, new))
        if new != old:
            self.level.resize(new)
        else:
            action = "keep"
        decision = TuneDecision(action, old, new, snap)
        self.history.append(decision)
        return decision

"""Power laws y = a·n^b fitted by OLS on log–log axes, with a bootstrap CI of the exponent b, and the n at
which a fitted curve crosses a threshold (extrapolated beyond the measured range, and labelled so)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mgw.errors import DataError


@dataclass
class PowerLaw:
    exponent: float
    coefficient: float  # a in y = a·n^b
    ci95: tuple[float, float] | None  # bootstrap percentile CI of the exponent (None with < 3 points)
    r2: float
    points: int
    n_min: int
    n_max: int

    def predict(self, n: float | np.ndarray) -> float | np.ndarray:
        return self.coefficient * np.asarray(n, dtype=float) ** self.exponent

    def solve(self, y: float) -> float | None:
        """n where the curve reaches y (None for a flat curve); may lie outside the measured range."""
        if abs(self.exponent) < 1e-9 or y <= 0 or self.coefficient <= 0:
            return None
        return float((y / self.coefficient) ** (1.0 / self.exponent))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ols(lx: np.ndarray, ly: np.ndarray) -> tuple[float, float]:
    b, a = np.polyfit(lx, ly, 1)
    return float(b), float(a)


def fit_power_law(n: list[float] | np.ndarray, y: list[float] | np.ndarray, bootstrap: int = 1000,
                  seed: int = 42) -> PowerLaw:
    """Fit on the positive, finite points; CI by resampling points with replacement (resamples with fewer than
    two distinct n are redrawn out), the 2.5/97.5 percentiles of the exponent."""
    n, y = np.asarray(n, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(n) & np.isfinite(y) & (n > 0) & (y > 0)
    n, y = n[ok], y[ok]
    if len(np.unique(n)) < 2:
        raise DataError(f"a power-law fit needs positive values at two or more sizes, got {len(n)} point(s)")
    lx, ly = np.log(n), np.log(y)
    b, a = _ols(lx, ly)
    resid = ly - (a + b * lx)
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss_tot if ss_tot > 0 else 1.0
    ci = None
    if len(n) >= 3 and bootstrap > 0:
        rng = np.random.default_rng(seed)
        bs = []
        while len(bs) < bootstrap:
            idx = rng.integers(0, len(n), len(n))
            if len(np.unique(lx[idx])) < 2:
                continue
            bs.append(_ols(lx[idx], ly[idx])[0])
        ci = (float(np.percentile(bs, 2.5)), float(np.percentile(bs, 97.5)))
    return PowerLaw(b, float(np.exp(a)), ci, r2, int(len(n)), int(n.min()), int(n.max()))

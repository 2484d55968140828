"""A small real catalog: a seeded, platform-stratified sample of the listings plus listings that must be in it.

Why: resolving all ~23K real listings embeds every synopsis (about 6 minutes on 2 cores from an empty cache), which
the DVC pipeline does once; tests and quick runs need real rows, not all of them. Listings named by the
hand-checked pairs (`keep`) stay in, so the evidence model can still be fitted on the train split and the gold split
evaluated on the same pairs.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from mgw.errors import DataError


def stratified_subset(items: pd.DataFrame, per_platform: int, seed: int, keep: Iterable[str] = ()) -> pd.DataFrame:
    """`items` rows (original order, fresh index): every listing whose id is in `keep`, plus up to `per_platform`
    further listings of each platform drawn without replacement with `seed`."""
    if per_platform < 0:
        raise DataError(f"per_platform must be ≥ 0, got {per_platform}")
    kept = items["id"].isin(set(keep)).to_numpy()
    chosen = kept.copy()
    rng = np.random.default_rng(seed)
    platforms = items["platform"].to_numpy()
    for platform in sorted(set(platforms)):  # sorted: the draw order, hence the sample, is fixed by the seed
        rest = np.flatnonzero((platforms == platform) & ~kept)
        chosen[rng.choice(rest, min(per_platform, len(rest)), replace=False)] = True
    return items[chosen].reset_index(drop=True)

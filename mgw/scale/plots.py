"""Log–log figures of scale.json: measured points, the fitted power law, its extrapolation (dashed) to the
largest configured size, and the seed targets / memory wall where one applies."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mgw.scale.limits import MEMORY_WALL_BYTES, TARGETS

PANELS = [  # (title, stage, metric, y label, target)
    ("ingest time", "ingest", "seconds", "s", None),
    ("resolve time", "resolve", "seconds", "s", None),
    ("embedding time (extrapolated beyond the measured texts)", "embed", "seconds", "s", None),
    ("index build time", "index", "build_s", "s", None),
    ("search p99 at recall@10 ≥ target", "index", "p99_us", "µs", TARGETS["search_p95_us"]),
    ("index memory (build peak)", "index", "rss_delta_bytes", "bytes", MEMORY_WALL_BYTES),
    ("hypergraph query p95", "hypergraph", "query_p95_ms", "ms", TARGETS["hypergraph_p95_ms"]),
    ("GAT rerank p50, 100 candidates (served; scan: full-scan pseudo-history)", "gat",
     ("rerank_p50_ms", "scan_rerank_p50_ms"), "ms", TARGETS["rerank_p50_ms"]),
    ("cache hit ratio at a fixed size", "cache", "hit_ratio", "hit ratio", None),
]


def figure(metrics: dict[str, Any], n_max: float | None = None):
    import matplotlib.pyplot as plt

    df = pd.DataFrame(metrics["rows"])
    if "error" in df:
        df = df[df["error"].isna()]
    fits = metrics["fits"]
    n_max = n_max or max(max(metrics["settings"]["sizes"]), df["n"].max())
    fig, axes = plt.subplots(3, 3, figsize=(13, 10.5))
    for ax, (title, stage, metrics_, unit, target) in zip(axes.ravel(), PANELS):
        d = df[(df["stage"] == stage)]
        metrics_ = [m for m in ((metrics_,) if isinstance(metrics_, str) else metrics_) if m in d]
        if not metrics_:
            ax.set_title(f"{title}: not measured", fontsize=9)
            continue
        # series: one per backend (index), else one per metric (the first is the stage's own)
        series = ([(b, g, metrics_[0]) for b, g in d.groupby("backend")] if stage == "index"
                  else [(None if i == 0 else m.split("_")[0], d, m) for i, m in enumerate(metrics_)])
        plotted = 0
        for backend, g, metric in series:
            g = g[g[metric].notna() & (g[metric] > 0)]  # a log axis has no place for 0 (e.g. no RSS growth)
            if g.empty:
                continue
            plotted += len(g)
            key = f"{stage}.{backend}.{metric}" if stage == "index" else f"{stage}.{metric}"
            meas = g[g["measured"].astype(bool)]
            line = ax.plot(meas["n"], meas[metric], "o", ms=4, label=backend or stage)[0]
            f = fits.get(key)
            if f:
                xs = np.geomspace(f["n_min"], f["n_max"], 20)
                ax.plot(xs, f["coefficient"] * xs ** f["exponent"], "-", color=line.get_color(), lw=1)
                xe = np.geomspace(f["n_max"], n_max, 20)
                ax.plot(xe, f["coefficient"] * xe ** f["exponent"], "--", color=line.get_color(), lw=1)
                line.set_label(f"{backend or stage}: n^{f['exponent']:.2f}")
            extra = g[~g["measured"].astype(bool)]
            if len(extra):
                ax.plot(extra["n"], extra[metric], "x", color=line.get_color(), label="extrapolated")
        if not plotted:
            ax.set_title(f"{title}: no positive values measured", fontsize=9)
            continue
        if target is not None:
            ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("titles")
        ax.set_ylabel(unit)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig

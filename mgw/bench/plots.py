"""Benchmark figures (matplotlib, Agg): recall/QPS Pareto, latency CDF, filtered recall, memory vs recall."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pareto_front(df: pd.DataFrame, x: str = "recall", y: str = "qps_single") -> pd.DataFrame:
    """Rows not dominated in (higher x, higher y)."""
    d = df.sort_values([x, y], ascending=[False, False])
    keep, best = [], -np.inf
    for idx, r in d.iterrows():
        if r[y] > best:
            keep.append(idx)
            best = r[y]
    return d.loc[keep].sort_values(x)


def plot_pareto(df: pd.DataFrame, dataset: str, ax=None):
    """Recall@10 (logit x) vs single-thread QPS (log y), one Pareto line per build config."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    g = df[df["dataset"] == dataset]
    for cfg, c in g.groupby("config"):
        f = pareto_front(c)
        ax.plot(f["recall"].clip(1e-3, 1 - 1e-4), f["qps_single"], marker="o", ms=3, label=cfg)
    ax.set_xscale("logit")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("QPS (1 thread)")
    ax.set_title(f"{dataset}: recall vs QPS")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_latency_cdf(df: pd.DataFrame, latencies: dict[str, np.ndarray], dataset: str, ax=None):
    """Per-query latency CDF at each config's default query params."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    g = df[(df["dataset"] == dataset) & df["is_default_query"]]
    for _, r in g.iterrows():
        lat = np.sort(latencies.get(r["latency_key"], np.array([]))) / 1e3
        if lat.size:
            ax.plot(lat, np.arange(1, lat.size + 1) / lat.size, label=r["config"])
    ax.set_xscale("log")
    ax.set_xlabel("latency (µs)")
    ax.set_ylabel("fraction of queries")
    ax.set_title(f"{dataset}: latency CDF (default query params)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_filtered(filtered: pd.DataFrame, dataset: str, ax=None):
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    g = filtered[filtered["dataset"] == dataset]
    for cfg, c in g.groupby("config"):
        c = c.sort_values("selectivity")
        ax.plot(c["selectivity"], c["recall"], marker="o", label=cfg)
    ax.set_xscale("log")
    ax.set_xlabel("filter selectivity")
    ax.set_ylabel("recall@10")
    ax.axhline(0.95, color="grey", ls="--", lw=1)
    ax.set_title(f"{dataset}: filtered recall")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_memory(df: pd.DataFrame, dataset: str, ax=None):
    """Serialized bytes per vector vs the best recall each build reaches."""
    plt = _plt()
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    g = df[df["dataset"] == dataset].groupby("config").agg(recall=("recall", "max"), bpv=("bytes_per_vector", "first"))
    for cfg, r in g.iterrows():
        ax.scatter(r["bpv"], r["recall"])
        ax.annotate(cfg, (r["bpv"], r["recall"]), fontsize=7)
    ax.set_xlabel("serialized bytes per vector")
    ax.set_ylabel("best recall@10")
    ax.set_title(f"{dataset}: memory vs recall")
    ax.grid(True, alpha=0.3)
    return ax


def plot_all(df: pd.DataFrame, filtered: pd.DataFrame, latencies: dict[str, np.ndarray], out_dir: Path) -> list[Path]:
    plt = _plt()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in df["dataset"].unique():
        for kind, fn in (("pareto", lambda ax: plot_pareto(df, ds, ax)),
                         ("latency_cdf", lambda ax: plot_latency_cdf(df, latencies, ds, ax)),
                         ("filtered", lambda ax: plot_filtered(filtered, ds, ax) if len(filtered) else None),
                         ("memory", lambda ax: plot_memory(df, ds, ax))):
            fig, ax = plt.subplots(figsize=(7, 4.5))
            fn(ax)
            fig.tight_layout()
            p = out_dir / f"bench_{kind}_{ds}.png"
            fig.savefig(p, dpi=110)
            plt.close(fig)
            paths.append(p)
    return paths

"""Figures for the tuning report, drawn from tune.json alone (no study storage needed)."""
from __future__ import annotations

from typing import Any

import numpy as np

MARKERS = {"hnswlib": "o", "faiss-hnsw-flat": "s", "faiss-hnsw-sq8": "^"}


def trials_frame(result: dict[str, Any]):
    import pandas as pd

    df = pd.DataFrame(result.get("trials", []))
    if not df.empty:
        df["on_front"] = df["number"].isin(result.get("pareto_front", []))
        df["feasible"] = df["recall"] >= result["recall_target"]
    return df


def pareto(result: dict[str, Any], ax=None):
    """Recall@k (x) vs measured QPS (y, log): trials per backend, the Pareto front, seed default and choice."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    df = trials_frame(result)
    for backend, g in df.groupby("backend"):
        ax.scatter(g["recall"], g["qps"], marker=MARKERS.get(backend, "o"), alpha=0.55, label=backend)
    front = df[df["on_front"]].sort_values("recall")
    ax.plot(front["recall"], front["qps"], drawstyle="steps-post", color="k", lw=1, marker="o", ms=9, mfc="none",
            label="Pareto front")
    d = result.get("default")
    if d:
        ax.scatter([d["recall"]], [d["qps"]], marker="*", s=260, c="red", edgecolors="k", zorder=5,
                   label="seed default M=32 efC=200 efS=100")
    c = result.get("chosen")
    if c:
        ax.scatter([c["recall"]], [c["qps"]], marker="P", s=200, c="limegreen", edgecolors="k", zorder=5,
                   label="chosen (re-measured)")
    ax.axvline(result["recall_target"], ls="--", c="grey", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel(f"recall@{result['k']}")
    ax.set_ylabel("measured QPS (log)")
    ax.set_title("Tuning trials: recall vs QPS")
    ax.legend(fontsize=8, loc="lower left")
    return ax


def history(result: dict[str, Any], ax=None):
    """QPS of each trial in order, feasible ones highlighted, and the best feasible QPS so far."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    df = trials_frame(result).sort_values("number")
    ax.scatter(df["number"], df["qps"], c=np.where(df["feasible"], "tab:blue", "lightgrey"), s=18,
               label="trial (grey: below recall target)")
    best = df["qps"].where(df["feasible"]).cummax()
    ax.plot(df["number"], best, c="tab:orange", label="best feasible so far")
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("measured QPS")
    ax.set_title("Optimization history")
    ax.legend(fontsize=8)
    return ax


def importances(result: dict[str, Any], axes=None):
    """fANOVA importances per objective (bar charts)."""
    import matplotlib.pyplot as plt

    imp = result.get("importances") or {}
    if axes is None:
        _, axes = plt.subplots(1, max(1, len(imp)), figsize=(7, 2.8), squeeze=False)
        axes = axes[0]
    for ax, (name, vals) in zip(axes, imp.items()):
        names = list(vals)[::-1]
        ax.barh(names, [vals[n] for n in names])
        ax.set_title(f"importance for {name}")
        ax.set_xlim(0, 1)
    return axes


def summary_table(result: dict[str, Any]):
    """Seed default vs chosen vs best-at-default-recall, as measured in the confirmation step."""
    import pandas as pd

    rows = []
    for label, key in (("seed default", "default"), ("chosen", "chosen"), ("best at default's recall", "equal_recall")):
        r = result.get(key)
        if r:
            rows.append({"": label, **r["config"], "recall": r["recall"], "qps": r["qps"]})
    df = pd.DataFrame(rows).set_index("")
    if "qps" in df and "seed default" in df.index:
        df["× default QPS"] = df["qps"] / df.loc["seed default", "qps"]
    return df


def spread_table(result: dict[str, Any]):
    import pandas as pd

    spread = result.get("build_spread") or {}
    return pd.DataFrame(spread.get("builds", []))

"""Adapter to the reranker area (mgw.rerank): resolve ranker names against the model registry and score
every arm on the same test users once, which yields both the per-user metrics (offline A/B) and the
ranked lists + held-out items (online simulation). Falls back to the long file `mgw train` writes
(reports/rerank/per_user.parquet; offline only) when the catalog artifacts to rebuild the test split are absent.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mgw.abtest.experiment import per_user_from_long
from mgw.abtest.synthetic import RankedArms
from mgw.config import ROOT, Params
from mgw.errors import DataError

log = logging.getLogger(__name__)

BASELINES = ("retriever", "popularity", "utility", "itemknn", "als", "lightgcn", "lightgbm")  # mgw.rerank.evaluate.BASELINES
PER_USER_FILE = ROOT / "reports" / "rerank" / "per_user.parquet"
PER_USER_TASKS_FILE = ROOT / "reports" / "rerank" / "per_user_tasks.parquet"
RERANK_METRICS = ROOT / "reports" / "metrics" / "rerank.json"


def _registry(params: Params):
    from mgw.rerank.registry import Registry

    root = Path(params.gnn.registry_dir)
    return Registry(root if root.is_absolute() else ROOT / root)


def check_ranker_name(name: str) -> None:
    if name in BASELINES or (name.startswith("reranker@") and len(name) > len("reranker@")):
        return
    raise DataError(f"unknown ranker {name!r}; use one of {list(BASELINES)} or reranker@<version|alias>")


def resolve(name: str, params: Params) -> str:
    """Baseline names as they are; reranker@<alias|version> → reranker@<semver> (UnknownIdError if absent)."""
    check_ranker_name(name)
    if name in BASELINES:
        return name
    return f"reranker@{_registry(params).resolve(name)}"


def best_baseline(params: Params) -> str:
    """The baseline `mgw train` found best (rerank.json), else the best mean in per_user.parquet, else lightgcn."""
    if RERANK_METRICS.exists():
        vs = json.loads(RERANK_METRICS.read_text()).get("significance", {}).get("vs")
        if vs in BASELINES:
            return vs
    if PER_USER_FILE.exists():
        df = pd.read_parquet(PER_USER_FILE)
        df = df[df["ranker"].isin(BASELINES)]
        if len(df):
            return str(df.groupby("ranker")[params.abtest.primary_metric].mean().idxmax())
    return "lightgcn"


def default_arms(params: Params) -> tuple[list[str], list[str]]:
    """params' control vs treatment (production vs candidate); when the registry cannot supply two
    different versions, the GAT (reranker@production) against the best baseline — with a note."""
    ctl, trt = params.abtest.control, params.abtest.treatment
    try:
        versions = _registry(params).versions()
        same = len(versions) >= 2 and resolve(ctl, params) == resolve(trt, params)
    except Exception as e:  # noqa: BLE001 — registry absent or alias missing: explained in the note
        versions, same = [], False
        log.info("registry not usable for the default arms: %s", e)
    if len(versions) >= 2 and not same:
        return [ctl, trt], []
    best = best_baseline(params)
    why = (f"{ctl} and {trt} are the same version" if same else f"the registry holds {len(versions)} version(s)")
    return [best, "reranker@production"], [
        f"{why}: comparing GAT reranker@production against the best baseline {best!r} instead of {ctl} vs {trt}"]


def score_arms(arms: Sequence[str], params: Params) -> tuple[dict[str, pd.DataFrame], RankedArms, str]:
    """Score every arm on the reranker's test split once: per-user metrics and top-k lists."""
    from mgw.rerank import evaluate as ev
    from mgw.rerank.metrics import ranking_from_scores

    resolved = {a: resolve(a, params) for a in arms}
    data = ev.build_data(params)[0]
    phase = data.phase("test", params.gnn.candidates)
    k = params.gnn.k
    per_user, lists = {}, {}
    for arm, name in resolved.items():
        if name.startswith("reranker@"):
            scores = ev.reranker_scores(ev.load_reranker(name.removeprefix("reranker@"), params), phase, data)
        else:
            scores = ev.baseline_scores(name, phase, data, params)
        per_user[arm] = ev.metrics_frame(arm, phase, scores, k).drop(columns="ranker").set_index("user_id")
        lists[arm] = ranking_from_scores(phase.cand, scores)[:, :k]
    relevant = {u: set(np.asarray(r).tolist()) for u, r in zip(phase.users, phase.relevant)}
    ranked = RankedArms(user_ids=np.asarray(phase.users, dtype=object), lists=lists, relevant=relevant,
                        source="mgw.rerank.evaluate (test split)")
    names = ", ".join(f"{a}={n}" for a, n in resolved.items() if a != n)
    return per_user, ranked, f"mgw.rerank test split, scored now ({params.gnn.interactions} interactions" + (
        f"; {names})" if names else ")")


def load_arms(arms: Sequence[str], params: Params) -> tuple[dict[str, pd.DataFrame], RankedArms | None, str, list[str]]:
    """(per-user metrics, ranked lists or None, origin, notes). Scoring needs the catalog artifacts; without
    them the per-user file from `mgw train` serves the offline comparison."""
    for a in arms:
        check_ranker_name(a)
    try:
        per_user, ranked, origin = score_arms(arms, params)
        return per_user, ranked, origin, []
    except FileNotFoundError as e:
        if not PER_USER_FILE.exists():
            raise DataError(f"cannot score {list(arms)}: {e}; and no {PER_USER_FILE.relative_to(ROOT)} from "
                            f"`mgw train` either (or use --source synthetic)") from None
        resolved = {a: resolve(a, params) for a in arms}
        table = per_user_from_long(pd.read_parquet(PER_USER_FILE), list(resolved.values()))
        note = f"catalog artifacts missing ({e}); offline metrics read from {PER_USER_FILE.relative_to(ROOT)}, online simulation skipped"
        return {a: table[resolved[a]] for a in arms}, None, str(PER_USER_FILE.relative_to(ROOT)), [note]


def task_arms(metrics_file: Path = RERANK_METRICS, tasks_file: Path = PER_USER_TASKS_FILE
              ) -> dict[str, tuple[dict[str, pd.DataFrame], str, str]]:
    """Per task of `mgw train` (recommend, search): (per-user metrics, control = that task's best baseline,
    treatment = the GAT trained in that run) from its outputs, so "should the GAT ship" is asked per task.
    Empty when `mgw train` has not written them."""
    if not (metrics_file.exists() and tasks_file.exists()):
        return {}
    res = json.loads(metrics_file.read_text())
    version = res.get("model", {}).get("version")
    long = pd.read_parquet(tasks_file)
    out = {}
    for task, h in res.get("headline", {}).items():
        if not isinstance(h, dict) or "best_baseline" not in h or "task" not in long:
            continue
        gat = f"reranker@{version}"
        df = long[long["task"] == task].drop(columns="task")
        if not {gat, h["best_baseline"]} <= set(df["ranker"]):
            continue
        out[task] = (per_user_from_long(df, [h["best_baseline"], gat]), h["best_baseline"], gat)
    return out

"""From finished trials to a decision: the Pareto front (recall ↑, QPS ↑), the chosen configuration
(max QPS subject to recall@k ≥ target) and the best configuration that matches the seed default's recall."""
from __future__ import annotations

import logging
import math
from typing import Any

log = logging.getLogger(__name__)
CONFIG_KEYS = ("backend", "M", "efConstruction", "efSearch")


def trial_rows(study) -> list[dict[str, Any]]:
    """One flat dict per finished trial (all workers), in trial-number order."""
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if not t.values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in t.values[:2]):
            continue
        a = t.user_attrs
        rows.append({"number": t.number, **{k: t.params.get(k) for k in CONFIG_KEYS},
                     "recall": float(t.values[0]), "qps": float(t.values[1]),
                     "bytes_per_vector": a.get("bytes_per_vector"), "build_s": a.get("build_s"),
                     "cache_hit": a.get("cache_hit"), "timed_runs": a.get("timed_runs"),
                     "repeat_of": a.get("repeat_of"), "worker": a.get("worker"),
                     "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None})
    return rows


def dominates(a: dict, b: dict, keys: tuple[str, ...] = ("recall", "qps")) -> bool:
    return all(a[k] >= b[k] for k in keys) and any(a[k] > b[k] for k in keys)


def pareto_front(rows: list[dict], keys: tuple[str, ...] = ("recall", "qps")) -> list[dict]:
    """Non-dominated rows (maximizing every key), sorted by recall; exact repeats kept once."""
    unique = [r for r in rows if r.get("repeat_of") is None]
    front = [r for r in unique if not any(dominates(o, r, keys) for o in unique if o is not r)]
    return sorted(front, key=lambda r: (r["recall"], -r["qps"]))


def choose(rows: list[dict], recall_target: float) -> dict | None:
    """Max QPS among rows with recall ≥ target (ties → higher recall); None when nothing is feasible."""
    feasible = [r for r in rows if r["recall"] >= recall_target]
    return max(feasible, key=lambda r: (r["qps"], r["recall"])) if feasible else None


def config_of(row: dict) -> dict[str, Any]:
    return {k: row[k] for k in CONFIG_KEYS}


def importances(study, seed: int) -> dict[str, dict[str, float]]:
    """fANOVA parameter importances for each objective (empty when too few trials to fit)."""
    import optuna

    names = ["recall", "qps"]
    out: dict[str, dict[str, float]] = {}
    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    if len(complete) < 4:
        return out
    for i, name in enumerate(names):
        try:
            ev = optuna.importance.FanovaImportanceEvaluator(seed=seed)
            imp = optuna.importance.get_param_importances(study, evaluator=ev, target=lambda t, i=i: t.values[i])
            out[name] = {k: float(v) for k, v in imp.items()}
        except (RuntimeError, ValueError) as e:  # e.g. a single distinct value everywhere
            log.warning("parameter importances for %s unavailable: %s", name, e)
    return out

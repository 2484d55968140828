"""`mgw tune` end to end: validate everything, run this worker's trials, then (optionally) decide:
Pareto front, chosen config, the seed default measured in the same run, the tuned/default QPS ratio
under the same conditions (interleaved re-measurement), and the spread over repeated multi-threaded builds."""
from __future__ import annotations

import logging
import statistics
from pathlib import Path
from typing import Any

from mgw.config import Params
from mgw.tune import harness, select, storage as storage_mod
from mgw.tune.study import (SEED_DEFAULT, BuildCache, Objective, SearchSpace, TuneConfigError, make_sampler,
                            open_study)

log = logging.getLogger(__name__)
QPS_GOAL = 2.0  # issue goal: tuned ≥ 2× the seed default's QPS


def prepare(params: Params, *, storage: str | None, study_name: str, storage_root: str | Path | None = None):
    """Every check that can fail before a trial runs: space, sampler, storage URL and connection."""
    tp = params.tune
    space = SearchSpace.create(list(tp.backends), {k: list(v) for k, v in tp.space.items()})
    make_sampler(tp.sampler, params.seed, tp.population)
    st = storage_mod.open_storage(storage, study_name, root=storage_root)
    return space, st


def run_tune(params: Params, *, embeddings: str | Path | None, storage: str | None = None,
             study_name: str | None = None, trials: int | None = None, worker: int = 0, decide: bool = True,
             storage_root: str | Path | None = None, progress: bool = True,
             synthetic_n: int = 3000) -> dict[str, Any]:
    """Run `trials` trials of this worker into the study, then summarize the whole study (all workers)."""
    import optuna

    tp = params.tune
    study_name = study_name or tp.study
    trials = tp.trials if trials is None else trials
    space, st = prepare(params, storage=storage, study_name=study_name, storage_root=storage_root)
    data = harness.load_data(embeddings, tp.queries, tp.k, params.seed, synthetic_n=synthetic_n)
    cache = BuildCache(data, tp.threads, tp.max_cached_builds)
    objective = Objective(data, space, cache, recall_target=tp.recall_target, runs=tp.runs, threads=tp.threads,
                          memory=tp.memory_objective, worker=worker)
    sampler = make_sampler(tp.sampler, params.seed + worker, tp.population)
    study = open_study(st, study_name, objective.directions(), sampler, space)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if trials:
        log.info("tune: %d trials on %s (%d base, %d queries) into study %r", trials, data.name,
                 len(data.base), len(data.queries), study_name)
        study.optimize(objective, n_trials=trials, show_progress_bar=progress, gc_after_trial=False)
    result: dict[str, Any] = {
        "dataset": data.describe(), "recall_target": tp.recall_target, "k": tp.k, "space": space.describe(),
        "study": {"name": study_name, "storage": storage_mod.describe(storage, study_name, storage_root),
                  "sampler": tp.sampler, "population": tp.population, "seed": params.seed + worker,
                  "worker": worker, "directions": objective.directions(), "trials_this_run": trials},
        "timing": {"threads": tp.threads, "runs": tp.runs, "mode": "batch of all queries, best of runs",
                   "qps": "queries / wall seconds of one search call over all held-out queries"},
        "seed_default": dict(SEED_DEFAULT),
    }
    if decide:
        result.update(decide_study(study, data, cache, params))
    result["cache"] = cache.stats()
    return result


def decide_study(study, data: harness.TuneData, cache: BuildCache, params: Params) -> dict[str, Any]:
    tp = params.tune
    rows = select.trial_rows(study)
    front = select.pareto_front(rows)
    out: dict[str, Any] = {"trials": rows, "n_trials_total": len(rows),
                           "pareto_front": [r["number"] for r in front],
                           "importances": select.importances(study, params.seed)}
    default_cfg = dict(SEED_DEFAULT)
    chosen = select.choose(rows, tp.recall_target)
    # Same run, same conditions: re-measure chosen and default alternately, best of `confirm_runs` each.
    targets = {"default": default_cfg} | ({"chosen": select.config_of(chosen)} if chosen else {})
    confirmed = confirm(targets, data, cache, rounds=tp.confirm_runs, threads=tp.threads)
    out["default"] = {"config": default_cfg, **confirmed["default"]}
    if chosen is None:
        out["chosen"] = None
        out["ratio"] = None
        out["note"] = f"no trial reached recall@{tp.k} ≥ {tp.recall_target}; widen the space or add trials"
        return out
    c = confirmed["chosen"]
    out["chosen"] = {"config": select.config_of(chosen), "trial": chosen["number"],
                     "trial_recall": chosen["recall"], "trial_qps": chosen["qps"], **c,
                     "meets_target": c["recall"] >= tp.recall_target}
    ratio = c["qps"] / confirmed["default"]["qps"]
    out["ratio"] = {"qps_tuned_over_default": ratio, "goal": QPS_GOAL, "meets_goal": ratio >= QPS_GOAL,
                    "recall_tuned": c["recall"], "recall_default": confirmed["default"]["recall"]}
    # "At equal-or-better recall": the fastest trial whose recall is at least the default's.
    eq = select.choose(rows, confirmed["default"]["recall"])
    if eq is not None:
        eqc = confirm({"eq": select.config_of(eq), "default": default_cfg}, data, cache,
                      rounds=tp.confirm_runs, threads=tp.threads)
        out["equal_recall"] = {"config": select.config_of(eq), "trial": eq["number"], **eqc["eq"],
                               "default_qps": eqc["default"]["qps"],
                               "qps_over_default": eqc["eq"]["qps"] / eqc["default"]["qps"]}
    else:
        out["equal_recall"] = None
    out["build_spread"] = build_spread(select.config_of(chosen), data, tp.spread_builds, tp.threads, tp.runs,
                                       tp.recall_target)
    return out


def confirm(configs: dict[str, dict], data: harness.TuneData, cache: BuildCache, *, rounds: int,
            threads: int) -> dict[str, dict]:
    """Alternate the configs round by round so machine noise hits all of them alike; keep each one's best."""
    best: dict[str, dict] = {}
    for _ in range(max(1, rounds)):
        for name, cfg in configs.items():
            index, build_s, _ = cache.get(cfg["backend"], cfg["M"], cfg["efConstruction"])
            m = harness.measure(index, data, cfg["efSearch"], runs=1, threads=threads)
            if name not in best or m["qps"] > best[name]["qps"]:
                best[name] = {"recall": m["recall"], "qps": m["qps"], "build_s": build_s}
    for name in best:
        best[name]["rounds"] = max(1, rounds)
    return best


def build_spread(cfg: dict, data: harness.TuneData, builds: int, threads: int, runs: int,
                 recall_target: float) -> dict[str, Any]:
    """Build the chosen config `builds` times from scratch: multi-threaded HNSW insertion order varies between
    builds, so the graph (and recall, QPS) varies too. Reports every build and the spread."""
    per_build = []
    for i in range(builds):
        index, build_s = harness.build(cfg["backend"], cfg["M"], cfg["efConstruction"], data, threads, seed=100)
        m = harness.measure(index, data, cfg["efSearch"], runs=runs, threads=threads)
        per_build.append({"build": i, "build_s": build_s, "recall": m["recall"], "qps": m["qps"]})
        del index
    if not per_build:
        return {"builds": []}
    rec = [b["recall"] for b in per_build]
    qps = [b["qps"] for b in per_build]
    return {"config": cfg, "threads": threads, "builds": per_build,
            "recall_min": min(rec), "recall_max": max(rec),
            "recall_std": statistics.pstdev(rec), "qps_min": min(qps), "qps_max": max(qps),
            "build_s_min": min(b["build_s"] for b in per_build), "build_s_max": max(b["build_s"] for b in per_build),
            "all_meet_target": min(rec) >= recall_target}


def run_and_report(params: Params, *, params_path: str | Path | None = None, embeddings: str | Path | None = None,
                   storage: str | None = None, study_name: str | None = None, trials: int | None = None,
                   worker: int = 0, decide: bool = True, apply: bool = False,
                   metrics_dir: str | Path | None = None, storage_root: str | Path | None = None,
                   progress: bool = True, synthetic_n: int = 3000) -> dict[str, Any]:
    """run_tune + write reports/metrics/tune.json (+ params.yaml index: when apply and a config was chosen)."""
    from mgw.reporting import write_metrics
    from mgw.tune.apply import apply_config, index_settings

    if apply and not decide:
        raise TuneConfigError("--apply needs the decision step (drop --no-decide)")
    result = run_tune(params, embeddings=embeddings, storage=storage, study_name=study_name, trials=trials,
                      worker=worker, decide=decide, storage_root=storage_root, progress=progress,
                      synthetic_n=synthetic_n)
    result["applied"] = None
    chosen = result.get("chosen")
    if apply and chosen:
        index_settings(chosen["config"])  # raises before writing when the config cannot be expressed
        if not chosen["meets_target"]:
            raise TuneConfigError(f"not applying: the chosen config's re-measured recall {chosen['recall']:.4f} "
                                  f"is below the target {params.tune.recall_target}")
        changes = apply_config(chosen["config"], params_path)
        result["applied"] = {k: {"old": old, "new": new} for k, (old, new) in changes.items()}
    if decide:
        result["metrics_path"] = str(write_metrics("tune", result, seed=params.seed, threads=params.tune.threads,
                                                   metrics_dir=metrics_dir))
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Human summary printed by `mgw tune`."""
    lines = [f"study {result['study']['name']} at {result['study']['storage']}: "
             f"{result.get('n_trials_total', '?')} finished trials ({result['study']['trials_this_run']} this run)"]
    d = result.get("default")
    if d:
        lines.append(f"seed default {d['config']}: recall@{result['k']}={d['recall']:.4f} qps={d['qps']:.0f}")
    c = result.get("chosen")
    if c:
        r = result["ratio"]
        lines.append(f"chosen {c['config']}: recall@{result['k']}={c['recall']:.4f} qps={c['qps']:.0f} "
                     f"→ {r['qps_tuned_over_default']:.2f}× the default (goal ≥ {r['goal']}×)")
    elif "chosen" in result:
        lines.append(result.get("note", "no config chosen"))
    if result.get("applied"):
        lines.append("applied to params.yaml: " + ", ".join(f"{k}={v['new']}" for k, v in result["applied"].items()))
    if result.get("metrics_path"):
        lines.append(f"wrote {result['metrics_path']}")
    return lines


def demo_run(out_dir: str | Path, params: Params | None = None) -> dict[str, Any]:
    """A small complete study on seeded synthetic vectors (notebook fallback when no tune.json exists)."""
    from mgw.config import load_params

    params = params or load_params(overrides={"tune": {
        "queries": 100, "runs": 1, "confirm_runs": 1, "spread_builds": 2, "population": 4,
        "backends": ["hnswlib", "faiss-hnsw-flat"],
        "space": {"M": [8, 16, 32], "efConstruction": [40, 100], "efSearch": [10, 16, 32, 64, 100]}}})
    out_dir = Path(out_dir)
    return run_and_report(params, embeddings=None, storage=f"sqlite:///{out_dir / 'demo.db'}", study_name="demo",
                          trials=8, metrics_dir=out_dir, progress=False, synthetic_n=1500)

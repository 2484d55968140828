"""The resolve stage's evaluation: every engine on the same labelled pairs, the headline numbers.

Real catalogs: the gold split of the hand-checked pairs (P/R/F1 with bootstrap CIs, overall and per failure
class), blocking's pairs completeness on the gold positives, the silver view, and how many same-title-
same-year pairs each engine merged. Simulated catalogs: the generator's ground truth over all pairs.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from mgw.config import Params
from mgw.data.resolve import blocking, labels
from mgw.data.resolve.evaluate import (exact_duplicate_pairs, labelled_report, pairwise_scores, same_entity,
                                       truth_recall_by_type)
from mgw.data.resolve.resolver import Prepared, Resolution
from mgw.data.resolve.silver import silver_labels, silver_report


def engine_summary(res: Resolution) -> dict[str, Any]:
    keys = ("threshold", "entities", "merges", "exact_title_merges", "fuzzy_title_merges", "movie_series_merges",
            "refused_movie_series_without_evidence", "refused_platform_conflicts", "refused_cannot_link",
            "multi_platform_entities", "model", "seconds")
    return {k: res.stats[k] for k in keys}


def _movie_series_without_evidence(res: Resolution) -> int:
    m = res.merges
    return int(((m["type"] == "mixed") & ~m["people"].isin(["most", "some"])).sum())


def evaluate(params: Params, prep: Prepared, engines: dict[str, Any],
             results: dict[str, Resolution]) -> tuple[dict[str, Any], pd.DataFrame]:
    """(evaluation dict, per labelled pair rows for the report) for all engines."""
    rp, seed = params.resolve, params.seed
    items = prep.items
    out: dict[str, Any] = {"engines": {}}
    if params.data.source == "simulated":
        from mgw.data.connectors.simulated import simulated_truth

        truth = simulated_truth(params)
        groups: dict[str, list[str]] = {}
        for item, work in truth.items():
            groups.setdefault(work, []).append(item)
        positives = [(a, b) for g in groups.values() for a in g for b in g if a < b]
        out["kind"] = "simulated ground truth (all pairs)"
        out["blocking"] = blocking.pairs_completeness(prep.pairs, prep.frame["unique_id"], positives)
        for name, res in results.items():
            out["engines"][name] = {**pairwise_scores(res.item_entity, truth),
                                    "recall_by_type": truth_recall_by_type(items, res.item_entity, truth),
                                    "movie_series_merges_without_evidence": _movie_series_without_evidence(res)}
        return out, pd.DataFrame({"a": [], "b": []})
    lab = labels.read_labels(rp.labels)
    gold = labels.locate(lab[lab["split"] == "gold"], prep.frame["unique_id"])
    out["kind"] = f"hand-checked gold pairs ({rp.labels}, split=gold)"
    out["gold_pairs"], out["gold_positives"] = int(len(gold)), int(gold["label"].sum())
    out["blocking"] = blocking.pairs_completeness(prep.pairs, prep.frame["unique_id"],
                                                  list(zip(gold.loc[gold["label"] == 1, "a"],
                                                           gold.loc[gold["label"] == 1, "b"])))
    rows = gold[["a", "b", "title_a", "title_b", "class", "label", "reason"]].copy()
    gold_gammas = prep.gammas_for(gold)
    silver = silver_labels(items, rp.eval_pairs, seed)
    dupes = exact_duplicate_pairs(items)
    for name, res in results.items():
        pred = same_entity(gold, res.item_entity)
        rows[f"{name}_same"] = pred
        rows[f"{name}_probability"] = engines[name].predict_proba(gold_gammas)
        out["engines"][name] = {
            "gold": labelled_report(gold, pred, rp.bootstrap, seed),
            "silver": silver_report(silver, res.item_entity, rp.bootstrap, seed),
            "same_title_year_pairs": {"total": len(dupes),
                                      "merged": int(sum(res.item_entity[a] == res.item_entity[b] for a, b in dupes))},
            "movie_series_merges_without_evidence": _movie_series_without_evidence(res),
        }
    return out, rows.reset_index(drop=True)


ENGINES = ("mgw", "splink")


def headline(params: Params, evaluation: dict[str, Any]) -> dict[str, Any]:
    """The issue's headline keys: the configured engine's gold precision/recall, both engines' F1."""
    engine = params.resolve.engine
    ev = evaluation["engines"]
    if params.data.source == "simulated":
        main = ev[engine]
        return {"gold_precision": main["precision"], "gold_recall": main["recall"], "gold_pairs": main["true_pairs"],
                "series_recall": main["recall_by_type"].get("series", float("nan")), "engine": engine,
                **{f"{n}_f1": ev[n]["f1"] if n in ev else None for n in ENGINES}}
    main = ev[engine]["gold"]
    return {"gold_precision": main["precision"], "gold_recall": main["recall"], "gold_pairs": main["pairs"],
            "series_recall": main["by_class"].get("series_years", {}).get("recall", float("nan")),
            "engine": engine, **{f"{n}_f1": ev[n]["gold"]["f1"] if n in ev else None for n in ENGINES}}

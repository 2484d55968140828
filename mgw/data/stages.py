"""The three foundation stages as plain functions (the CLI and DVC call these): ingest → resolve → embed.

Files:  data/interim/items.parquet, data/interim/rejected.jsonl            (ingest)
        data/processed/catalog.parquet, data/interim/merges.parquet,
        data/interim/resolve_labels.parquet                                 (resolve)
        data/processed/embeddings.npy, data/processed/embedding_ids.json    (embed)
        reports/metrics/{ingest,resolve,embed}.json
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mgw.config import Params
from mgw.data import ingest as ing
from mgw.data import resolve as res
from mgw.embed import Embedder, entity_text
from mgw.reporting import write_metrics

log = logging.getLogger(__name__)


def run_ingest(params: Params, interim: Path, metrics_dir: Path | None = None,
               show_progress: bool = True) -> dict[str, Any]:
    result = ing.ingest(params, show_progress=show_progress)
    ing.write_outputs(result, interim)  # rejects are kept even when the run fails below
    metrics = result.metrics(params.data.source)
    write_metrics("ingest", metrics, seed=params.seed, metrics_dir=metrics_dir)
    ing.check_reject_rate(result, params.data.max_reject_rate)
    return metrics


def load_items(interim: Path) -> pd.DataFrame:
    return pd.read_parquet(Path(interim) / "items.parquet")


def run_resolve(params: Params, interim: Path, processed: Path, metrics_dir: Path | None = None) -> dict[str, Any]:
    items = load_items(interim)
    resolution = res.resolve(items, params.resolve)
    processed.mkdir(parents=True, exist_ok=True)
    resolution.entities.to_parquet(processed / "catalog.parquet", index=False)
    pd.DataFrame(resolution.merges).to_parquet(Path(interim) / "merges.parquet", index=False)

    must_find = res.exact_duplicate_pairs(items)
    found = sum(resolution.item_entity[a] == resolution.item_entity[b] for a, b in must_find)
    metrics: dict[str, Any] = {
        "source": params.data.source, **resolution.stats,
        "exact_duplicate_pairs": {"total": len(must_find), "found": int(found)},
        "params": params.resolve.model_dump(),
    }
    if params.data.source == "simulated":
        from mgw.data.connectors.simulated import simulated_truth

        truth = simulated_truth(params)
        metrics["evaluation"] = {"kind": "gold (simulated ground truth)",
                                 **res.pairwise_scores(resolution.item_entity, truth)}
    else:
        labels = res.silver_labels(items, params.resolve.eval_pairs, params.seed)
        labels.to_parquet(Path(interim) / "resolve_labels.parquet", index=False)
        metrics["evaluation"] = {"kind": "silver (runtime + synopsis evidence, see README)",
                                 **res.score_labelled(labels, resolution.item_entity)}
    write_metrics("resolve", metrics, seed=params.seed, metrics_dir=metrics_dir)
    return metrics


def run_embed(params: Params, processed: Path, metrics_dir: Path | None = None,
              show_progress: bool = True) -> dict[str, Any]:
    catalog = pd.read_parquet(processed / "catalog.parquet")
    texts = [entity_text(t, d, g) for t, d, g in zip(catalog["title"], catalog["description"], catalog["genres"])]
    embedder = Embedder.from_params(params.embed, show_progress=show_progress)
    vectors = embedder.encode(texts)
    if not np.isfinite(vectors).all():
        raise ValueError("embedding model produced non-finite values")
    np.save(processed / "embeddings.npy", vectors)
    (processed / "embedding_ids.json").write_text(json.dumps(catalog["entity_id"].tolist()))
    metrics = {"model": params.embed.model, "dim": int(vectors.shape[1]), "count": int(len(vectors)),
               "batch_size": params.embed.batch_size, **embedder.last_stats}
    write_metrics("embed", metrics, seed=params.seed, threads=params.embed.threads, metrics_dir=metrics_dir)
    return metrics


def load_embeddings(processed: str | Path) -> tuple[list[str], np.ndarray]:
    """(entity ids, float32 [n, d] unit vectors) as written by the embed stage."""
    processed = Path(processed)
    ids = json.loads((processed / "embedding_ids.json").read_text())
    vectors = np.load(processed / "embeddings.npy", allow_pickle=False)
    if len(ids) != len(vectors):
        raise ValueError(f"{processed}: {len(ids)} ids but {len(vectors)} vectors")
    return ids, vectors


def run_foundation(params: Params, root: str | Path, show_progress: bool = False) -> dict[str, Path]:
    """All three stages into `root/{interim,processed,metrics}` (notebooks' fallback, quick experiments)."""
    root = Path(root)
    dirs = {name: root / name for name in ("interim", "processed", "metrics")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    run_ingest(params, dirs["interim"], dirs["metrics"], show_progress)
    run_resolve(params, dirs["interim"], dirs["processed"], dirs["metrics"])
    run_embed(params, dirs["processed"], dirs["metrics"], show_progress)
    return dirs


def small_params(seed: int = 42, per_platform: int = 150) -> Params:
    """A tiny simulated configuration for notebooks and smoke tests (seconds, not minutes)."""
    from mgw.config import load_params

    counts = {"netflix": per_platform, "prime": per_platform, "disney": per_platform // 3, "hulu": per_platform // 2}
    return load_params(overrides={"seed": seed, "data": {"source": "simulated"},
                                  "simulated": {"contentCount": counts, "syntheticUsers": 50}})


def load_processed(processed: str | Path) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """(catalog, entity ids, vectors) of a processed folder; a clear error naming the missing file."""
    processed = Path(processed)
    for name in ("catalog.parquet", "embeddings.npy", "embedding_ids.json"):
        if not (processed / name).exists():
            raise FileNotFoundError(f"{processed / name} missing (run `mgw ingest && mgw resolve && mgw embed`)")
    ids, vectors = load_embeddings(processed)
    return pd.read_parquet(processed / "catalog.parquet"), ids, vectors

"""The three foundation stages as plain functions (the CLI and DVC call these): ingest → resolve → embed.

Files:  data/interim/items.parquet, data/interim/rejected.jsonl            (ingest)
        data/processed/catalog.parquet, data/interim/merges.parquet,
        data/interim/resolve_gold.parquet                                   (resolve)
        data/processed/embeddings.npy, data/processed/embedding_ids.json    (embed)
        reports/metrics/{ingest,resolve,embed}.json
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mgw.config import Params
from mgw.data import ingest as ing
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
    """Resolve with `resolve.engine`; with `resolve.compare_engines` the other engine runs on the same candidate
    pairs and both are evaluated side by side (gold set on real catalogs, ground truth on simulated ones)."""
    from mgw.data.resolve import report as rep
    from mgw.data.resolve import resolver

    items = load_items(interim)
    embedder = Embedder.from_params(params.embed)
    prep = resolver.prepare(items, params.resolve, embedder)
    embed_stats = dict(embedder.last_stats)
    t0 = time.perf_counter()
    train = resolver.training_set(params, prep, embedder)
    prep.seconds["training_set"] = time.perf_counter() - t0
    names = [params.resolve.engine] + ([n for n in ("mgw", "splink") if n != params.resolve.engine]
                                       if params.resolve.compare_engines else [])
    engines, results = {}, {}
    for name in names:
        t0 = time.perf_counter()
        engines[name] = resolver.fit_engine(name, params, prep, train)
        fit_s = time.perf_counter() - t0
        results[name] = resolver.resolve_with(engines[name], prep, params.resolve)
        results[name].stats["seconds"]["fit"] = fit_s
        results[name].stats["seconds"]["resolution_total"] = sum(results[name].stats["seconds"].values())
    main = results[params.resolve.engine]
    processed.mkdir(parents=True, exist_ok=True)
    main.entities.to_parquet(processed / "catalog.parquet", index=False)
    main.merges.to_parquet(Path(interim) / "merges.parquet", index=False)
    t0 = time.perf_counter()
    evaluation, gold_rows = rep.evaluate(params, prep, engines, results)
    evaluation["seconds"] = time.perf_counter() - t0
    gold_rows.to_parquet(Path(interim) / "resolve_gold.parquet", index=False)
    metrics: dict[str, Any] = {
        "source": params.data.source, **main.stats, "synopsis_embedding": embed_stats, "training": train.info,
        "engines": {n: rep.engine_summary(r) for n, r in results.items()},
        "evaluation": evaluation, "headline": rep.headline(params, evaluation),
        "params": params.resolve.model_dump(),
    }
    write_metrics("resolve", metrics, seed=params.seed, metrics_dir=metrics_dir)
    return metrics


def run_embed(params: Params, processed: Path, metrics_dir: Path | None = None,
              show_progress: bool = True) -> dict[str, Any]:
    """Embed every catalog title with `embed.runtime`, then (unless `embed.compare_texts` is 0) measure the
    runtimes side by side on a seeded sample: embed.json's headline is the chosen runtime against torch."""
    t0 = time.perf_counter()
    catalog = pd.read_parquet(processed / "catalog.parquet")
    texts = [entity_text(t, d, g) for t, d, g in zip(catalog["title"], catalog["description"], catalog["genres"])]
    embedder = Embedder.from_params(params.embed, show_progress=show_progress)
    vectors = embedder.encode(texts)
    if not np.isfinite(vectors).all():
        raise ValueError("embedding model produced non-finite values")
    np.save(processed / "embeddings.npy", vectors)
    (processed / "embedding_ids.json").write_text(json.dumps(catalog["entity_id"].tolist()))
    embed_wall_s = time.perf_counter() - t0
    metrics: dict[str, Any] = {"model": params.embed.model, **embedder.describe(), "dim": int(vectors.shape[1]),
                               "count": int(len(vectors)), **embedder.last_stats, "embed_wall_s": embed_wall_s}
    if params.embed.compare_texts:
        from mgw.embed.compare import compare_runtimes

        labels = ["torch", "onnx", "onnx-int8"]
        cmp = compare_runtimes(embedder.make_runtime, labels, texts, catalog["title"].astype(str).tolist(),
                               params.embed.compare_texts, params.seed)
        mine = cmp["runtimes"][embedder.label]
        metrics["headline"] = {"runtime": embedder.label,
                               "throughput_ratio_vs_torch": mine["throughput_ratio_vs_torch"],
                               "mean_cosine_vs_torch": mine["mean_cosine_vs_torch"],
                               "top10_overlap_vs_torch": mine["top10_overlap_vs_torch"]}
        metrics["comparison"] = cmp
        metrics["goals"] = {"mean_cosine_vs_torch": 0.999, "top10_overlap_vs_torch": 0.99,
                            "throughput_ratio_vs_torch": 2.0, "single_query_p50_ms": 5.0}
    metrics["stage_wall_s"] = time.perf_counter() - t0
    metrics["load_average_1m"] = os.getloadavg()[0]
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
                                  "simulated": {"contentCount": counts, "syntheticUsers": 50},
                                  "embed": {"compare_texts": 0}})


def load_processed(processed: str | Path) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """(catalog, entity ids, vectors) of a processed folder; a clear error naming the missing file."""
    processed = Path(processed)
    for name in ("catalog.parquet", "embeddings.npy", "embedding_ids.json"):
        if not (processed / name).exists():
            raise FileNotFoundError(f"{processed / name} missing (run `mgw ingest && mgw resolve && mgw embed`)")
    ids, vectors = load_embeddings(processed)
    return pd.read_parquet(processed / "catalog.parquet"), ids, vectors

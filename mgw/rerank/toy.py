"""A small seeded catalog with genre-clustered embeddings, for tests and for the notebook when pipeline
artifacts are absent. Not a stand-in for results: reports say when they come from it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

GENRES = ("action", "drama", "comedy", "documentary", "scifi")


def write_toy_catalog(out_dir: str | Path, n_items: int = 300, dim: int = 32, seed: int = 0) -> Path:
    """catalog.parquet + embeddings.npy + embedding_ids.json in out_dir (the catalog artifact layout)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(GENRES), dim))
    g = rng.integers(0, len(GENRES), n_items)
    emb = centers[g] + rng.normal(size=(n_items, dim))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"ent:toy{i}" for i in range(n_items)]
    pd.DataFrame({"entity_id": ids, "title": [f"Toy Title {i}" for i in range(n_items)], "type": "movie",
                  "release_year": rng.integers(1980, 2021, n_items),
                  "genres": [[GENRES[k]] for k in g]}).to_parquet(out / "catalog.parquet")
    np.save(out / "embeddings.npy", emb)
    (out / "embedding_ids.json").write_text(json.dumps(ids))
    return out


def toy_params(root: str | Path, dim: int = 32, users: int = 40, events: int = 20, epochs: int = 1, **gnn):
    """Params for a fast run on the toy catalog under root (registry and catalog inside root)."""
    from mgw.config import load_params

    root = Path(root)
    over = {"catalog_dir": str(root / "catalog"), "inputDim": dim, "hiddenDim": 16, "epochs": epochs,
            "registry_dir": str(root / "models"), "lightgcn_epochs": 5, "bootstrap": 100, "latency_queries": 20,
            "batch_size": 16, "item_knn": 5, "candidates": 50, "transfer_genres": ["comedy"], "lr": 0.01,
            "seeds": 2, "tune_budget": 1, "ablations": False, "search_task": False, "random_negatives": 5,
            "cf_knn": 20, "als_factors": 8, "als_iterations": 3, "tune_frac": 0.3, **gnn}
    return load_params(overrides={"gnn": over, "simulated": {"syntheticUsers": users, "eventsPerUser": events},
                                  "seed": 7})

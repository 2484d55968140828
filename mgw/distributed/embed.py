"""Batch embedding as a Ray Data job: texts → `map_batches` over a pool of model actors, each holding one
`mgw.embed.Embedder` (loaded once per actor, not per batch) → vectors in the input order. The same
`Embedder.encode` as the single-process path, so vectors agree within float tolerance (batch composition
changes padding only)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class EmbedActor:
    """One model per actor; `__call__` embeds a batch {row, text} → {row, vector}."""

    def __init__(self, embed_params: dict[str, Any], threads: int):
        from mgw.config import EmbedParams
        from mgw.embed import Embedder

        ep = EmbedParams.model_validate({**embed_params, "threads": threads})
        self.embedder = Embedder.from_params(ep, disk_cache=False)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


def embed_texts(texts: Sequence[str], embed_params: Any, actors: int = 2, batch_size: int = 64) -> np.ndarray:
    """float32 [len(texts), dim] unit vectors, row i ↔ texts[i]; Ray must be initialised (session.init)."""
    import ray

    if not len(texts):
        return np.zeros((0, embed_params.dim), dtype=np.float32)
    threads = max(1, embed_params.threads // actors)
    ds = ray.data.from_items([{"row": i, "text": str(t)} for i, t in enumerate(texts)])
    out = ds.map_batches(EmbedActor, fn_constructor_kwargs={"embed_params": embed_params.model_dump(),
                                                            "threads": threads},
                         batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
                         num_cpus=threads)
    rows, vecs = [], []
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        rows.append(batch["row"])
        vecs.append(np.stack(batch["vector"]) if batch["vector"].dtype == object else batch["vector"])
    order = np.argsort(np.concatenate(rows), kind="stable")
    return np.concatenate(vecs)[order].astype(np.float32)

"""The production pipeline from params and the processed artifacts (catalog.parquet, embeddings.npy,
embedding_ids.json): hypergraph store, `mgw.index.from_params` index, the Embedder's query encoder (LRU), and
the registry's reranker."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from mgw.search.pipeline import SearchPipeline
from mgw.search.rerankers import GatAdapter, production_reranker


def build_pipeline(params: Any, processed: Any = None, embed: Callable | None = None,
                   index_backend: str | None = None) -> SearchPipeline:
    from mgw.config import ROOT
    from mgw.data.stages import load_processed
    from mgw.hypergraph.bench import build_store
    from mgw.index import from_params

    catalog, ids, vectors = load_processed(Path(processed) if processed else ROOT / "data" / "processed")
    hp = params.hypergraph
    store = build_store(catalog, hp.regions, hp.home_bonus, params.seed, hp.availability)
    index = from_params(params, vectors.shape[1], backend=index_backend)
    index.build(vectors, ids)
    if embed is None:
        from mgw.embed import Embedder

        embed = Embedder.from_params(params.embed, disk_cache=False).query_encoder()
    reranker = production_reranker(params, store)
    if isinstance(reranker, GatAdapter):
        reranker.use_index(index)
    return SearchPipeline(catalog, store, index, embed, reranker, params.search.candidates, params.search.k)

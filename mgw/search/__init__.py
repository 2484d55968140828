"""Search (seed §3.1.2): `pipeline` (parse → embed → filtered ANN → rerank → response), `rerankers` (the
protocol, the seed's utility score, the GAT adapter), `fragments` (precomputed per-title response parts),
`build` (the pipeline from params), `bench` (latency per stage, throughput), `cached` (behind the cache)."""
from __future__ import annotations

from mgw.search.bench import SEARCH_BENCH_QUERIES, bench_search
from mgw.search.build import build_pipeline
from mgw.search.cached import CachedSearch
from mgw.search.fragments import SEARCH_URLS, ResponseFragments
from mgw.search.pipeline import SearchPipeline, cache_key, embed_text, public_response
from mgw.search.rerankers import GatAdapter, Reranker, UtilityReranker, production_reranker

__all__ = ["SearchPipeline", "build_pipeline", "bench_search", "CachedSearch", "UtilityReranker", "GatAdapter",
           "Reranker", "production_reranker", "cache_key", "embed_text", "public_response", "ResponseFragments",
           "SEARCH_URLS", "SEARCH_BENCH_QUERIES"]

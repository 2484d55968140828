"""The ranking features of one (user, candidate) pair, defined once for training, evaluation and serving.

Everything is computed from state fitted before the phase's cut time (`CFModels`) and the user's history:
query and preference similarity, each collaborative source's score, popularity and decayed popularity at the
cut, the item's recency (days since its last positive event, years since release), the user's genre affinity,
and two user-level facts (days since the user's last event, history length) that let a model weigh the others.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgw.rerank.candidates import DAY, CFModels

FEATURES = ("query_sim", "pref_sim", "itemknn", "als", "log_pop", "log_pop_decayed", "item_idle_days",
            "years_since_release", "genre_affinity", "user_idle_days", "user_history")
NEVER_DAYS = 3650.0  # an item never seen positively counts as idle for ten years


@dataclass
class UserContext:
    """What the features need to know about one user at the cut."""

    user: str | None
    pref: np.ndarray  # [d] unit preference vector
    pos_items: np.ndarray  # unique positive history item rows
    last_time: float  # time of the last history event (NaN: none)
    n_events: int


class FeatureSpace:
    """Item-level arrays at the cut plus the collaborative models; `features(ctx, rows, query_sim)`."""

    def __init__(self, cf: CFModels, item_emb: np.ndarray, genres: list[list[str]] | np.ndarray,
                 release_year: np.ndarray):
        self.cf, self.item_emb = cf, item_emb
        self.release_year = np.asarray(release_year, float)
        if isinstance(genres, np.ndarray):  # an item × genre matrix already (from the registry)
            ig = genres.astype(np.float32)
            self.genre_names = [f"g{j}" for j in range(ig.shape[1])]
        else:
            names = sorted({g for gs in genres for g in gs})
            self.genre_names = names
            gi = {g: j for j, g in enumerate(names)}
            ig = np.zeros((len(genres), max(len(names), 1)), np.float32)
            for i, gs in enumerate(genres):
                for g in gs:
                    ig[i, gi[g]] = 1.0
        self.item_genre = ig / np.maximum(ig.sum(1, keepdims=True), 1)
        # Candidate-major item-kNN similarities: a candidate's score is its row · the user's history indicator.
        self.sim_t = cf.item_sim.T.tocsr()
        cut_year = 1970 + cf.cut / (365.25 * DAY)
        yrs = cut_year - np.asarray(release_year, float)
        self.years = np.where(np.isfinite(yrs), np.clip(yrs, 0, 100), np.nanmedian(yrs) if np.isfinite(yrs).any()
                              else 20.0).astype(np.float32)
        idle = (cf.cut - cf.last_pos) / DAY
        self.item_idle = np.log1p(np.where(np.isfinite(idle), np.maximum(idle, 0), NEVER_DAYS)).astype(np.float32)
        self.log_pop = np.log1p(cf.pop).astype(np.float32)
        self.log_dec = np.log1p(cf.pop_decayed).astype(np.float32)

    def genre_profile(self, pos_items: np.ndarray) -> np.ndarray:
        g = self.item_genre[pos_items].sum(0) if len(pos_items) else np.zeros(self.item_genre.shape[1], np.float32)
        s = g.sum()
        return g / s if s > 0 else g

    def features(self, ctx: UserContext, rows: np.ndarray, query_sim: np.ndarray) -> np.ndarray:
        """[C, len(FEATURES)] float32 for one user's candidate rows."""
        cf = self.cf
        if len(ctx.pos_items):
            mask = np.zeros(self.sim_t.shape[1], np.float32)
            mask[ctx.pos_items] = 1.0
            knn = self.sim_t[rows] @ mask
        else:
            knn = np.zeros(len(rows), np.float32)
        r = cf.als_user.get(ctx.user, -1) if ctx.user is not None else -1
        als = cf.als_item_f[rows] @ cf.als_user_f[r] if r >= 0 else np.zeros(len(rows), np.float32)
        idle = (cf.cut - ctx.last_time) / DAY if np.isfinite(ctx.last_time) else NEVER_DAYS
        c = len(rows)
        return np.column_stack([
            np.asarray(query_sim, np.float32), self.item_emb[rows] @ ctx.pref, knn, als, self.log_pop[rows],
            self.log_dec[rows], self.item_idle[rows], self.years[rows],
            self.item_genre[rows] @ self.genre_profile(ctx.pos_items),
            np.full(c, np.log1p(max(idle, 0.0))), np.full(c, np.log1p(ctx.n_events))]).astype(np.float32)

    def batch(self, ctxs: list[UserContext], cand: np.ndarray, query_sim: np.ndarray) -> np.ndarray:
        """[U, C, F] for many users."""
        out = np.empty((len(ctxs), cand.shape[1], len(FEATURES)), np.float32)
        for k, ctx in enumerate(ctxs):
            out[k] = self.features(ctx, cand[k], query_sim[k])
        return out


def popularity_space(item_emb: np.ndarray, pop: np.ndarray) -> FeatureSpace:
    """A feature space with popularity only (no co-watch, no ALS users): for latency benches and tests of the
    serving path on synthetic items, where the features' cost is paid but there is no history to fit."""
    import scipy.sparse as sp

    n = len(item_emb)
    pop = np.asarray(pop, dtype=np.float64)
    cf = CFModels(0.0, sp.csr_matrix((n, n), dtype=np.float32), {}, np.zeros((0, 8), np.float32),
                  np.zeros((n, 8), np.float32), pop, pop, np.full(n, np.nan))
    return FeatureSpace(cf, item_emb, [[]] * n, np.full(n, np.nan))


# --------------------------------------------------------------------------- registry round trip
def space_arrays(space: FeatureSpace) -> dict[str, np.ndarray]:
    """The arrays that rebuild a FeatureSpace (no user ids: ALS user factors travel with the served users)."""
    cf = space.cf
    sim = cf.item_sim.tocsr()
    return {"cut": np.array([cf.cut]), "sim_indptr": sim.indptr.astype(np.int64),
            "sim_indices": sim.indices.astype(np.int64), "sim_data": sim.data.astype(np.float32),
            "als_item_f": cf.als_item_f, "pop": cf.pop, "pop_decayed": cf.pop_decayed, "last_pos": cf.last_pos,
            "item_genre": space.item_genre, "release_year": space.release_year}


def space_from_arrays(a: dict[str, np.ndarray], item_emb: np.ndarray, users: list[str],
                      als_user_f: np.ndarray) -> FeatureSpace:
    import scipy.sparse as sp

    n = item_emb.shape[0]
    sim = sp.csr_matrix((a["sim_data"], a["sim_indices"], a["sim_indptr"]), shape=(n, n))
    cf = CFModels(float(a["cut"][0]), sim, {u: k for k, u in enumerate(users)}, als_user_f, a["als_item_f"],
                  a["pop"], a["pop_decayed"], a["last_pos"])
    return FeatureSpace(cf, item_emb, a["item_genre"], a["release_year"])

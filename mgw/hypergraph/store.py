"""The availability hypergraph (seed §1.1.3): nodes are titles, platforms, regions and genres; one weighted
hyperedge per (title, platform) joins the title, the platform and every region where it streams, and one
hyperedge per genre joins the genre and its titles.

Queries never walk hyperedges: at build time every leaf of the filter language (platform×region, platform,
region, genre, type, year, rating) becomes a packed bitmap over title indices, and a query is a few
word-wise AND/OR/ANDNOT (`mgw.hypergraph.bitmap`). The hyperedges themselves are kept as arrays (edge →
title, platform, region bitmask) for availability lookups, export and the compression measurement.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from mgw.config import PLATFORMS
from mgw.errors import DataError, DuplicateIdError, UnknownIdError, UnknownPlatformError
from mgw.hypergraph import bitmap as bm
from mgw.hypergraph.availability import FOOTPRINT, region_code
from mgw.hypergraph.expr import LEAVES, Expr

TYPES = ("movie", "series")


class HypergraphStore:
    """Build with `from_catalog` (a catalog DataFrame + availability rows) or `from_arrays` (benchmarks)."""

    def __init__(self, ids: np.ndarray, types: np.ndarray, years: np.ndarray, ratings: np.ndarray,
                 genre_title: np.ndarray, genre_code: np.ndarray, genres: list[str],
                 edge_title: np.ndarray, edge_platform: np.ndarray, edge_regions: np.ndarray, regions: list[str]):
        self.ids = np.asarray(ids, dtype=object)
        self.n = len(self.ids)
        self.index = {eid: i for i, eid in enumerate(self.ids)}
        if len(self.index) != self.n:
            raise DuplicateIdError("duplicate entity_id in catalog")
        if len(regions) > 63:
            raise DataError("at most 63 regions (region sets are 64-bit masks)")
        self.regions = list(regions)
        self.genres = list(genres)
        self.types = np.asarray(types, dtype=np.int8)  # index into TYPES
        self.years = np.asarray(years, dtype=np.int32)  # 0 = unknown
        self.ratings = np.array([r if isinstance(r, str) else None for r in ratings], dtype=object)
        # hyperedges: availability, sorted by (title, platform)
        order = np.lexsort((edge_platform, edge_title))
        self.edge_title = np.asarray(edge_title, dtype=np.int64)[order]
        self.edge_platform = np.asarray(edge_platform, dtype=np.int8)[order]  # index into PLATFORMS
        self.edge_regions = np.asarray(edge_regions, dtype=np.uint64)[order]  # bitmask over self.regions
        if len(self.edge_title) > 1 and np.any((np.diff(self.edge_title) == 0) & (np.diff(self.edge_platform) == 0)):
            raise DuplicateIdError("two availability hyperedges for the same (title, platform)")
        self.genre_title = np.asarray(genre_title, dtype=np.int64)
        self.genre_code = np.asarray(genre_code, dtype=np.int32)
        self._build_bitmaps()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_catalog(cls, catalog: pd.DataFrame, availability: pd.DataFrame, regions: list[str]) -> HypergraphStore:
        """catalog: ContentEntity columns (entity_id, type, release_year, rating, genres);
        availability: rows (entity_id, platform, region) from an AvailabilityModel."""
        regions = [region_code(r) for r in regions]
        ids = catalog["entity_id"].to_numpy(dtype=object)
        index = {eid: i for i, eid in enumerate(ids)}
        if len(index) != len(ids):
            raise DuplicateIdError("duplicate entity_id in catalog")
        bad_types = sorted(set(catalog["type"]) - set(TYPES))
        if bad_types:
            raise DataError(f"unknown content types {bad_types}; expected movie|series")
        types = catalog["type"].map({t: i for i, t in enumerate(TYPES)}).to_numpy()
        years = pd.to_numeric(catalog["release_year"], errors="coerce").fillna(0).astype(np.int32).to_numpy()
        ratings = catalog["rating"].where(catalog["rating"].notna(), None).to_numpy(dtype=object)
        genre_names = sorted({g for gs in catalog["genres"] for g in gs})
        gcode = {g: i for i, g in enumerate(genre_names)}
        g_title = np.fromiter((i for i, gs in enumerate(catalog["genres"]) for _ in gs), dtype=np.int64)
        g_code = np.fromiter((gcode[g] for gs in catalog["genres"] for g in gs), dtype=np.int32)
        # availability rows → one hyperedge per (title, platform) with a region bitmask
        av = availability
        unknown = set(av["entity_id"]) - set(index)
        if unknown:
            raise UnknownIdError(f"availability rows for titles not in the catalog: {sorted(unknown)[:5]}")
        bad = sorted(set(av["platform"]) - set(PLATFORMS))
        if bad:
            raise UnknownPlatformError(f"unknown platforms {bad}; known: {', '.join(PLATFORMS)}")
        rcode = {r: j for j, r in enumerate(regions)}
        av = av[av["region"].isin(rcode)]
        t = av["entity_id"].map(index).to_numpy(np.int64)
        p = av["platform"].map({q: k for k, q in enumerate(PLATFORMS)}).to_numpy(np.int64)
        bit = np.left_shift(np.uint64(1), av["region"].map(rcode).to_numpy(np.uint64))
        key = t * len(PLATFORMS) + p
        # listed on a platform but streaming in none of the modelled regions: keep the edge, empty region set
        listed = [(index[e], PLATFORMS.index(q)) for e, ps in zip(ids, catalog["platforms"]) for q in ps]
        lkey = np.asarray([a * len(PLATFORMS) + b for a, b in listed], dtype=np.int64)
        all_keys = np.union1d(key, lkey)
        masks = np.zeros(len(all_keys), dtype=np.uint64)
        np.bitwise_or.at(masks, np.searchsorted(all_keys, key), bit)
        return cls(ids, types, years, ratings, g_title, g_code, genre_names,
                   all_keys // len(PLATFORMS), all_keys % len(PLATFORMS), masks, regions)

    def _build_bitmaps(self) -> None:
        n = self.n
        self._bits: dict[tuple, np.ndarray] = {("all",): bm.full(n)}
        for k, p in enumerate(PLATFORMS):
            on_p = self.edge_platform == k
            self._bits[("platform", p)] = bm.from_indices(self.edge_title[on_p], n)  # listed on p
            for j, r in enumerate(self.regions):
                sel = on_p & ((self.edge_regions >> np.uint64(j)) & np.uint64(1)).astype(bool)
                self._bits[("avail", p, r)] = bm.from_indices(self.edge_title[sel], n)
        for j, r in enumerate(self.regions):
            sel = ((self.edge_regions >> np.uint64(j)) & np.uint64(1)).astype(bool)
            self._bits[("region", r)] = bm.from_indices(self.edge_title[sel], n)
        for c, g in enumerate(self.genres):
            self._bits[("genre", g)] = bm.from_indices(self.genre_title[self.genre_code == c], n)
        for c, t in enumerate(TYPES):
            self._bits[("type", t)] = bm.from_indices(np.flatnonzero(self.types == c), n)
        for x in sorted({r for r in self.ratings if r is not None}):
            self._bits[("rating", x)] = bm.from_indices(np.flatnonzero(self.ratings == x), n)
        known = self.years > 0
        self._year_values = np.unique(self.years[known])
        self._year_rows = np.vstack([bm.from_indices(np.flatnonzero(self.years == y), n)
                                     for y in self._year_values]) if len(self._year_values) else \
            np.zeros((0, bm.n_words(n)), dtype=np.uint64)
        self._empty = bm.empty(n)

    # ------------------------------------------------------------------ queries
    def evaluate(self, expr: Expr) -> np.ndarray:
        """Bitmap of the titles matching `expr` (mgw.hypergraph.expr). Unknown genre/rating → empty set;
        unknown platform, region or operator → DataError."""
        op = expr[0] if isinstance(expr, (list, tuple)) and expr else None
        if op in ("and", "or") and len(expr) < 2 or op == "not" and len(expr) != 2 or \
                op not in ("and", "or", "not", *LEAVES):
            raise DataError(f"unknown filter expression {expr!r}")
        if op == "and":
            out = self.evaluate(expr[1]).copy()
            for child in expr[2:]:
                if child[0] == "not":  # ANDNOT without materialising the complement
                    np.bitwise_and(out, np.invert(self.evaluate(child[1])), out=out)
                else:
                    np.bitwise_and(out, self.evaluate(child), out=out)
            return out
        if op == "or":
            out = self.evaluate(expr[1]).copy()
            for child in expr[2:]:
                np.bitwise_or(out, self.evaluate(child), out=out)
            return out
        if op == "not":
            return np.bitwise_and(self._bits[("all",)], np.invert(self.evaluate(expr[1])))
        if op == "year":
            lo, hi = expr[1], expr[2]
            a = 0 if lo is None else int(np.searchsorted(self._year_values, lo, "left"))
            b = len(self._year_values) if hi is None else int(np.searchsorted(self._year_values, hi, "right"))
            return bm.union_rows(self._year_rows[a:b], self.n)
        key = tuple(expr)
        if key in self._bits:
            return self._bits[key]
        if op in ("avail", "platform") and expr[1] not in PLATFORMS:
            raise UnknownPlatformError(f"unknown platform {expr[1]!r}; known: {', '.join(PLATFORMS)}")
        if op in ("avail", "region") and expr[-1] not in self.regions:
            raise DataError(f"region {expr[-1]!r} is not modelled; modelled regions: {', '.join(self.regions)}")
        if op in ("genre", "rating", "type"):
            return self._empty
        raise DataError(f"unknown filter expression {expr!r}")

    def query(self, expr: Expr) -> np.ndarray:
        """Matching entity ids, in catalog order."""
        return self.ids[bm.to_indices(self.evaluate(expr))]

    def indices(self, expr: Expr) -> np.ndarray:
        return bm.to_indices(self.evaluate(expr))

    def count(self, expr: Expr) -> int:
        return bm.count(self.evaluate(expr))

    # ------------------------------------------------------------------ hyperedges
    def availability(self, entity_id: str) -> dict[str, list[str]]:
        """{platform: [regions where it streams]} for one title."""
        if entity_id not in self.index:
            raise UnknownIdError(f"unknown entity_id {entity_id!r}")
        i = self.index[entity_id]
        a, b = np.searchsorted(self.edge_title, [i, i + 1])
        return {PLATFORMS[self.edge_platform[e]]: self._region_list(self.edge_regions[e]) for e in range(a, b)}

    def _region_list(self, mask: np.uint64) -> list[str]:
        m = int(mask)
        return [r for j, r in enumerate(self.regions) if m >> j & 1]

    def edge_weights(self) -> np.ndarray:
        """Weight of each availability hyperedge: share of the platform's footprint (among the modelled
        regions) where the title streams, the seed's 0.95-style confidence of "available on p"."""
        sizes = np.bitwise_count(self.edge_regions).astype(float)
        foot = np.array([max(1, len(set(FOOTPRINT[p]) & set(self.regions))) for p in PLATFORMS])
        return np.minimum(1.0, sizes / foot[self.edge_platform])

    def hyperedges(self, genres: bool = True) -> Iterator[dict[str, Any]]:
        """Seed §1.1.3 shape: {id, kind, nodes, weight}. Node names: the entity id, `platform-<p>`,
        `region-<r>`, `genre-<g>`."""
        weights = self.edge_weights()
        for e in range(len(self.edge_title)):
            p = PLATFORMS[self.edge_platform[e]]
            yield {"id": f"availability-{e}", "kind": "availability",
                   "nodes": [self.ids[self.edge_title[e]], f"platform-{p}",
                             *[f"region-{r.lower()}" for r in self._region_list(self.edge_regions[e])]],
                   "weight": round(float(weights[e]), 4)}
        if genres:
            for c, g in enumerate(self.genres):
                members = self.ids[self.genre_title[self.genre_code == c]]
                yield {"id": f"genre-{g}", "kind": "genre", "nodes": [f"genre-{g}", *members], "weight": 1.0}

    def compression(self, genres: bool = True) -> dict[str, Any]:
        """Hyperedges vs the pairwise graph of their clique expansion (seed claims 3.7× fewer edges).

        Counted exactly: distinct node pairs that share an availability hyperedge (title–platform,
        title–region, platform–region, region–region), and the same with genre hyperedges added."""
        E = len(self.edge_title)
        sizes = 2 + np.bitwise_count(self.edge_regions).astype(np.int64)
        n_title_platform = E
        # distinct (title, region) pairs: OR of the masks of a title's edges
        starts = np.flatnonzero(np.r_[True, np.diff(self.edge_title) != 0]) if E else np.array([], int)
        title_masks = np.bitwise_or.reduceat(self.edge_regions, starts) if E else np.array([], np.uint64)
        n_title_region = int(np.bitwise_count(title_masks).sum())
        plat_masks = {k: int(np.bitwise_or.reduce(self.edge_regions[self.edge_platform == k]))
                      for k in range(len(PLATFORMS)) if np.any(self.edge_platform == k)}
        n_platform_region = sum(bin(m).count("1") for m in plat_masks.values())
        uniq_masks = np.unique(self.edge_regions)
        rr = set()
        for m in uniq_masks:
            rs = [j for j in range(len(self.regions)) if int(m) >> j & 1]
            rr.update((a, b) for i, a in enumerate(rs) for b in rs[i + 1:])
        pairwise = n_title_platform + n_title_region + n_platform_region + len(rr)
        out: dict[str, Any] = {"availability": {
            "hyperedges": E, "incidences": int(sizes.sum()), "pairwise_edges": int(pairwise),
            "pairwise_edges_with_multiplicity": int((sizes * (sizes - 1) // 2).sum()),
            "compression": pairwise / E if E else None,
            "pairs": {"title_platform": n_title_platform, "title_region": n_title_region,
                      "platform_region": n_platform_region, "region_region": len(rr)}}, "seed_claim": 3.7}
        if not genres:
            return out
        g_sizes = np.bincount(self.genre_code, minlength=len(self.genres)).astype(np.int64)
        # genre cliques: genre–title pairs plus title–title pairs, deduplicated across genres (exact, via
        # the titles' genre sets: a title pair is counted once however many genres it shares)
        genre_pairs = self._distinct_cotitle_pairs() + int(g_sizes.sum())
        out["availability_and_genres"] = {
            "hyperedges": E + len(self.genres), "incidences": int(sizes.sum() + g_sizes.sum() + len(self.genres)),
            "pairwise_edges": int(pairwise + genre_pairs),
            "compression": (pairwise + genre_pairs) / (E + len(self.genres)) if E else None}
        return out

    def _distinct_cotitle_pairs(self) -> int:
        """Distinct unordered title pairs sharing at least one genre, by inclusion–exclusion over genre sets
        (exact; cost grows with 2^genres-per-title, which is small)."""
        from collections import Counter
        from itertools import combinations

        sets: dict[int, list[int]] = {}
        for t, c in zip(self.genre_title.tolist(), self.genre_code.tolist()):
            sets.setdefault(t, []).append(c)
        subset_count: Counter = Counter()
        for gs in sets.values():
            gs = sorted(set(gs))
            for k in range(1, len(gs) + 1):
                for sub in combinations(gs, k):
                    subset_count[sub] += 1
        total = 0
        for sub, m in subset_count.items():
            total += (-1) ** (len(sub) + 1) * (m * (m - 1) // 2)
        return total

    def summary(self) -> dict[str, Any]:
        """Counts per platform×region (what the notebook plots)."""
        return {"titles": self.n, "hyperedges": len(self.edge_title), "regions": self.regions,
                "by_platform_region": {p: {r: self.count(["avail", p, r]) for r in self.regions} for p in PLATFORMS},
                "by_genre": {g: self.count(["genre", g]) for g in self.genres}}

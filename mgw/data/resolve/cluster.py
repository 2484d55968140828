"""From scored pairs to entities: accepted pairs are united greedily, most probable first.

Rules every engine's scores go through:
- a pair merges when its match probability reaches the engine's threshold;
- a movie–series pair additionally needs explicit evidence (a shared cast or director name) — a title and a
  year alone never make a film and a show one entity;
- two listings of one platform share an entity only when they match each other too (a 4K edition, a dubbed
  version, a season listed on its own): their own pair must pass the same test, else the merge is refused
  and counted as a platform conflict;
- two groups do not join when any scored pair across them is a clear non-match (probability below
  `cannot_link`), so a chain A–B–C cannot pull in a C that contradicts A.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class Components:
    """Union-find over listing rows; a join that puts two listings of one platform together needs those two
    to be an accepted pair themselves (`same_platform_ok`)."""

    def __init__(self, platforms: list[str], same_platform_ok: set[tuple[int, int]] | None = None):
        self.parent = list(range(len(platforms)))
        self.platform_of = platforms
        self.platforms = [{p} for p in platforms]
        self.members = [[i] for i in range(len(platforms))]
        self.same_platform_ok = same_platform_ok or set()
        self.conflicts = 0

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.platforms[ra] & self.platforms[rb] and not all(
                (min(x, y), max(x, y)) in self.same_platform_ok
                for x in self.members[ra] for y in self.members[rb] if self.platform_of[x] == self.platform_of[y]):
            self.conflicts += 1
            return False
        self.parent[rb] = ra
        self.platforms[ra] |= self.platforms[rb]
        self.members[ra] += self.members[rb]
        return True


@dataclass
class Clustering:
    root: np.ndarray  # listing row → representative row
    merged: np.ndarray  # indices into the scored pairs that joined two groups
    stats: dict[str, int] = field(default_factory=dict)


def accepted(probability: np.ndarray, threshold: float, mixed_type: np.ndarray,
             explicit_evidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pairs that may merge, movie–series pairs refused for lack of explicit evidence)."""
    ok = probability >= threshold
    refused_mixed = ok & mixed_type & ~explicit_evidence
    return ok & ~refused_mixed, refused_mixed


def same_platform_pairs(platforms: list[str], pairs: pd.DataFrame, accept: np.ndarray,
                        max_group: int = 50) -> pd.DataFrame:
    """Same-platform listing pairs (i < j) that accepted cross-platform pairs could put into one entity: all
    same-platform pairs inside each connected group of accepted pairs (groups above `max_group` are skipped)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(platforms)
    graph = coo_matrix((np.ones(int(accept.sum())), (pairs["i"].to_numpy()[accept], pairs["j"].to_numpy()[accept])),
                       shape=(n, n))
    _, label = connected_components(graph, directed=False)
    out = set()
    for members in groups(label).values():
        if 2 < len(members) <= max_group:
            out |= {(x, y) for k, x in enumerate(sorted(members)) for y in sorted(members)[k + 1:]
                    if platforms[x] == platforms[y]}
    ij = np.array(sorted(out), dtype=np.int64).reshape(-1, 2)
    return pd.DataFrame({"i": ij[:, 0], "j": ij[:, 1]})


def cluster(platforms: list[str], pairs: pd.DataFrame, probability: np.ndarray, accept: np.ndarray,
            refused_mixed: np.ndarray, cannot_link: float,
            same_platform_ok: set[tuple[int, int]] | None = None) -> Clustering:
    """Greedy clustering of listing rows `pairs.i`/`pairs.j` by descending `probability` over the `accept`ed
    pairs (see module doc)."""
    i_arr, j_arr = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    low = {(int(a), int(b)) for a, b in zip(i_arr[probability < cannot_link], j_arr[probability < cannot_link])}
    comps = Components(platforms, same_platform_ok)
    merged, refused_cannot = [], 0
    for k in np.argsort(-probability, kind="stable"):
        if not accept[k]:
            continue
        a, b = int(i_arr[k]), int(j_arr[k])
        ra, rb = comps.find(a), comps.find(b)
        if ra == rb:
            continue
        if any((min(x, y), max(x, y)) in low for x in comps.members[ra] for y in comps.members[rb]):
            refused_cannot += 1
            continue
        if comps.union(a, b):
            merged.append(k)
    root = np.array([comps.find(i) for i in range(len(platforms))])
    stats = {"accepted_pairs": int(accept.sum()), "merges": len(merged),
             "refused_movie_series_without_evidence": int(refused_mixed.sum()),
             "refused_platform_conflicts": comps.conflicts, "refused_cannot_link": refused_cannot,
             "same_platform_pairs_allowed": len(comps.same_platform_ok)}
    return Clustering(root, np.asarray(merged, dtype=np.int64), stats)


def groups(root: np.ndarray) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(root):
        out[int(r)].append(i)
    return out

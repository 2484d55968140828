"""Which listing pairs are compared at all: blocking on title keys, without the first-letter blind spot.

A pair is a candidate when its listings are on different platforms and
1. their title keys are equal once spaces are dropped ("spider man" / "spiderman"), or
2. they share one of the `tokens` rarest tokens of their title keys, counting only tokens held by at most
   `max_token_share` of the catalog (light plural folding: "comrades" / "comrade").
Leading articles and brand prefixes are already gone from the keys (mgw.data.resolve.keys), so a prefix
can no longer hide a pair. The same rules drive splink's blocking (mgw.data.resolve.splink_engine), so
both engines score the same pairs.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

import numpy as np
import pandas as pd


def _fold(token: str) -> str:
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token


def block_tokens(keys: pd.Series, tokens: int, max_token_share: float) -> list[list[str]]:
    """Per listing, its `tokens` rarest (folded) title-key tokens that are rare enough to block on."""
    folded = [sorted({_fold(t) for t in k.split()}) for k in keys]
    df = Counter(t for toks in folded for t in toks)
    cap = max(2, int(max_token_share * len(folded)))
    return [[t for t in sorted(toks, key=lambda t: (df[t], t))[:tokens] if df[t] <= cap] for toks in folded]


def candidate_pairs(listings: pd.DataFrame, tokens: int = 2, max_token_share: float = 0.01) -> pd.DataFrame:
    """Cross-platform candidate pairs (i < j, row positions in `listings`) and the rule that found each first.

    `listings` needs `platform`, `title_squash` and `block_tokens` columns (mgw.data.resolve.listings)."""
    plats = listings["platform"].to_numpy()
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(listings["title_squash"]):
        blocks["=" + key].append(i)
    for i, toks in enumerate(listings["block_tokens"]):
        for t in toks:
            blocks["~" + t].append(i)
    found: dict[tuple[int, int], str] = {}
    for name, members in blocks.items():
        rule = "title" if name[0] == "=" else "rare_token"
        for a, b in combinations(members, 2):
            if plats[a] != plats[b]:
                found.setdefault((a, b) if a < b else (b, a), rule)
    if not found:
        return pd.DataFrame({"i": np.zeros(0, int), "j": np.zeros(0, int), "rule": np.zeros(0, str)})
    (ij, rules) = zip(*found.items())
    arr = np.asarray(ij, dtype=np.int64)
    out = pd.DataFrame({"i": arr[:, 0], "j": arr[:, 1], "rule": rules})
    return out.sort_values(["i", "j"], kind="stable").reset_index(drop=True)


def pairs_completeness(pairs: pd.DataFrame, ids: pd.Series, positives: list[tuple[str, str]]) -> dict[str, float]:
    """Share of known true pairs (listing ids) that blocking lets through to comparison."""
    pos = {v: k for k, v in enumerate(ids)}
    have = set(zip(pairs["i"], pairs["j"]))
    hits = [(min(pos[a], pos[b]), max(pos[a], pos[b])) in have for a, b in positives if a in pos and b in pos]
    return {"positives": len(hits), "reached": int(sum(hits)),
            "pairs_completeness": float(np.mean(hits)) if hits else float("nan")}

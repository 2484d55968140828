"""Team-draft interleaving (Radlinski et al. 2008): one list merged from two rankers, clicks credited to the
ranker ("team") that contributed the clicked item. Every user sees both rankers, so it needs far fewer users
than a split A/B test to detect the same preference. Vectorised over sessions.
"""
from __future__ import annotations

import numpy as np

from mgw.errors import DataError

TEAM_A, TEAM_B, NO_TEAM = 0, 1, -1


def team_draft(a: np.ndarray, b: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Interleave row-wise: a, b are [S, Ka], [S, Kb] item ids (-1 pads). Returns (shown [S, k], team [S, k]).

    Each round, the team with fewer picks chooses next (a coin flip when equal) and adds its highest-ranked
    item not yet shown."""
    a = np.atleast_2d(np.asarray(a))
    b = np.atleast_2d(np.asarray(b))
    if a.shape[0] != b.shape[0]:
        raise DataError(f"a and b need the same number of sessions (got {a.shape[0]} and {b.shape[0]})")
    s = a.shape[0]
    shown = np.full((s, k), -1, dtype=np.int64)
    team = np.full((s, k), NO_TEAM, dtype=np.int8)
    picks = np.zeros((s, 2), dtype=np.int64)
    rows = np.arange(s)

    def next_item(src: np.ndarray, t: int) -> np.ndarray:
        used = (src[:, :, None] == shown[:, None, :t]).any(axis=2) if t else np.zeros(src.shape, dtype=bool)
        free = (src >= 0) & ~used
        pos = free.argmax(axis=1)
        return np.where(free.any(axis=1), src[rows, pos], -1)

    for t in range(k):
        coin = rng.random(s) < 0.5
        choose_a = (picks[:, 0] < picks[:, 1]) | ((picks[:, 0] == picks[:, 1]) & coin)
        cand_a, cand_b = next_item(a, t), next_item(b, t)
        # a team that has run out of items yields to the other
        choose_a = np.where(cand_a < 0, False, np.where(cand_b < 0, True, choose_a))
        item = np.where(choose_a, cand_a, cand_b)
        ok = item >= 0
        shown[:, t] = item
        team[:, t] = np.where(ok, np.where(choose_a, TEAM_A, TEAM_B), NO_TEAM)
        picks[:, 0] += ok & choose_a
        picks[:, 1] += ok & ~choose_a
    return shown, team


def credit(clicks: np.ndarray, team: np.ndarray) -> np.ndarray:
    """Per session: +1 if B's items got more clicks, -1 if A's did, 0 for a tie (incl. no clicks)."""
    clicks = np.asarray(clicks, dtype=bool)
    ca = (clicks & (team == TEAM_A)).sum(axis=-1)
    cb = (clicks & (team == TEAM_B)).sum(axis=-1)
    return np.sign(cb - ca).astype(np.int8)

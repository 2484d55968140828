"""A seeded synthetic ranking world for tests and the notebook's no-artifact branch (always labelled
"synthetic" in results). Users and items get latent factors; held-out items are drawn from each user's true
preferences; an arm is the true score plus Gaussian noise, so less noise = a better ranker with a known order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from mgw.errors import DataError


@dataclass
class RankedArms:
    """Per user: each arm's top-K list (item ids, -1 = empty) and the held-out relevant items."""

    user_ids: np.ndarray
    lists: dict[str, np.ndarray]  # arm → [n_users, K]
    relevant: dict[object, set]
    source: str = "synthetic"

    def __post_init__(self) -> None:
        n = len(self.user_ids)
        for arm, lst in self.lists.items():
            if np.asarray(lst).shape[0] != n:
                raise DataError(f"arm {arm!r} has {np.asarray(lst).shape[0]} lists for {n} users")


def make_synthetic_arms(arms: Mapping[str, float], n_users: int = 500, n_items: int = 400, k: int = 10,
                        dim: int = 16, heldout_mean: float = 5.0, seed: int = 0) -> RankedArms:
    """`arms` maps arm name → noise sd of its scores (0 = oracle). Each arm's noise is seeded by its
    name, so adding an arm never changes the others' lists."""
    if n_users < 1 or n_items < k:
        raise DataError(f"need n_users >= 1 and n_items >= k (got {n_users}, {n_items}, k={k})")
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(n_users, dim)) / np.sqrt(dim)
    items = rng.normal(size=(n_items, dim))
    true = users @ items.T + 0.5 * rng.normal(size=(n_users, n_items))
    # held-out: Gumbel-top-m sampling from softmax(true * 3) → relevant items follow preferences
    m = np.clip(rng.poisson(heldout_mean, size=n_users), 1, n_items // 2)
    noisy = true * 3.0 + rng.gumbel(size=true.shape)
    order = np.argsort(-noisy, axis=1)
    relevant = {int(u): set(order[u, : m[u]].tolist()) for u in range(n_users)}
    lists = {}
    for name, noise in arms.items():
        arm_rng = np.random.default_rng([seed, *name.encode()])
        score = true + noise * arm_rng.normal(size=true.shape)
        top = np.argpartition(-score, k, axis=1)[:, :k]
        lists[name] = np.take_along_axis(top, np.argsort(-np.take_along_axis(score, top, 1), axis=1), 1)
    return RankedArms(user_ids=np.arange(n_users), lists=lists, relevant=relevant)

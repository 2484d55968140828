"""Differential privacy for aggregated preferences (seed §4.3.3, §6.1): Laplace mechanism with a tracked budget.

Every release spends ε from a budget kept in the user store's `dp_ledger` table (sequential composition:
spent = Σ ε). A release that would exceed the budget is refused with `PrivacyBudgetError` before any noise
is drawn. Sensitivities: each user contributes at most `top` genres with weight 1 (L1 sensitivity `top` for the
genre-count vector) and a preferred max duration clipped to [0, max_duration] (sensitivity max_duration / n for
the mean).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from mgw.errors import DataError, MgwError
from mgw.store.users import UserStore


class PrivacyBudgetError(MgwError):
    """The release would spend more ε than the remaining budget."""


def laplace(value: np.ndarray | float, sensitivity: float, epsilon: float, rng: np.random.Generator) -> Any:
    """value + Laplace(0, sensitivity/ε) noise."""
    if epsilon <= 0:
        raise DataError("epsilon must be positive")
    return value + rng.laplace(0.0, sensitivity / epsilon, size=np.shape(value))


class PrivacyAccountant:
    def __init__(self, users: UserStore, budget: float):
        self.users, self.budget = users, float(budget)

    @property
    def spent(self) -> float:
        return float(self.users.conn.execute("SELECT COALESCE(SUM(epsilon), 0) FROM dp_ledger").fetchone()[0])

    @property
    def remaining(self) -> float:
        return self.budget - self.spent

    def spend(self, epsilon: float, purpose: str) -> None:
        """Record ε atomically, or refuse when it does not fit."""
        if epsilon <= 0:
            raise DataError("epsilon must be positive")
        conn = self.users.conn
        with self.users._lock:
            conn.execute("BEGIN IMMEDIATE")
            spent = float(conn.execute("SELECT COALESCE(SUM(epsilon), 0) FROM dp_ledger").fetchone()[0])
            if spent + epsilon > self.budget + 1e-12:
                conn.execute("ROLLBACK")
                raise PrivacyBudgetError(f"privacy budget exhausted: spent {spent:.3g} of {self.budget:.3g}, "
                                         f"asked for {epsilon:.3g} ({purpose})")
            conn.execute("INSERT INTO dp_ledger VALUES (?, ?, ?)", (time.time(), purpose, epsilon))
            conn.execute("COMMIT")


def aggregated_preferences(users: UserStore, user_ids: Sequence[str], epsilon: float, accountant: PrivacyAccountant,
                           rng: np.random.Generator, top: int = 5, max_duration: float = 300.0) -> dict[str, Any]:
    """Seed §4.3.3 getAggregatedPreferences: noisy top genres and noisy mean preferred duration; spends ε
    (half for genres, half for duration)."""
    if not user_ids:
        raise DataError("need at least one user")
    profiles = [users.get(u) for u in user_ids]  # UnknownIdError before spending anything
    accountant.spend(epsilon, f"aggregate {len(profiles)} users")
    genres = sorted({g for p in profiles for g in p.favorite_genres[:top]})
    counts = np.array([sum(g in p.favorite_genres[:top] for p in profiles) for g in genres], float)
    noisy_counts = laplace(counts, sensitivity=top, epsilon=epsilon / 2, rng=rng)
    dur = np.clip([p.preferred_duration.get("max", max_duration) for p in profiles], 0, max_duration)
    noisy_mean = float(laplace(float(np.mean(dur)), sensitivity=max_duration / len(profiles), epsilon=epsilon / 2, rng=rng))
    order = np.argsort(-noisy_counts, kind="stable")
    return {"topGenres": [genres[i] for i in order[:top]], "genreCounts": {genres[i]: float(noisy_counts[i]) for i in order},
            "avgDuration": noisy_mean, "epsilon": epsilon, "budget_remaining": accountant.remaining, "n": len(profiles)}

"""Personalisation from stored preferences (seed §4.3.2): the learned genre weights of the user's profile
shift the reranked scores, so an event that changes the profile changes the next search.

`PreferenceReranker` wraps any reranker: score + weight · mean over the title's genres of
(favorite − disliked); profiles are read through a memo that the user store's `on_change` hook clears.
`CatalogContent` is the small content view `UserStore.record` needs (genres per title, genre centroids)."""
from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from mgw.errors import UnknownIdError


class CatalogContent:
    """Genres per catalog title; genre centroid = the embedding of the genre's name (cheap, no catalog pass)."""

    version = 0

    def __init__(self, genres_of: dict[str, tuple[str, ...]], embed: Callable[[list[str]], np.ndarray]):
        self.genres_of, self.embed = genres_of, embed
        self._vectors: tuple[list[str], list[list[str]], np.ndarray] | None = None

    def get(self, entity_id: str) -> dict[str, Any]:
        try:
            return {"genres": list(self.genres_of[entity_id])}
        except KeyError:
            raise UnknownIdError(f"unknown content id {entity_id!r}") from None

    def genre_vectors(self) -> tuple[list[str], list[list[str]], np.ndarray]:
        if self._vectors is None:
            names = sorted({g for gs in self.genres_of.values() for g in gs})
            vecs = np.asarray(self.embed(names), np.float32) if names else np.zeros((0, 1), np.float32)
            self._vectors = (names, [[g] for g in names], vecs)
        return self._vectors


class PreferenceReranker:
    def __init__(self, base: Any, genres_of: dict[str, tuple[str, ...]], profile: Callable[[str], Any],
                 weight: float = 0.3):
        self.base, self.genres_of, self.profile, self.weight = base, genres_of, profile, weight
        self.version = base.version
        self._memo: dict[str, tuple[dict[str, float], dict[str, float]] | None] = {}
        self._lock = threading.Lock()

    def changed(self, user: str) -> None:
        """The user store's on_change hook."""
        with self._lock:
            self._memo.pop(user, None)

    def _weights(self, user: str):
        with self._lock:
            if user in self._memo:
                return self._memo[user]
        try:
            p = self.profile(user)
            w = (dict(p.favorite_weights), dict(p.disliked_weights))
        except UnknownIdError:
            w = None
        with self._lock:
            self._memo[user] = w
        return w

    def rerank(self, user, candidate_ids, candidate_scores, k=None, query_vector=None):
        ids, scores = self.base.rerank(user, candidate_ids, candidate_scores, None, query_vector=query_vector)
        w = self._weights(user) if isinstance(user, str) else None
        if not w or not ids:
            return (ids[:k], scores[:k]) if k else (ids, scores)
        fav, dis = w
        bonus = np.array([np.mean([fav.get(g, 0.0) - dis.get(g, 0.0) for g in self.genres_of.get(i, ())] or [0.0])
                          for i in ids])
        new = np.asarray(scores, float) + self.weight * bonus
        order = np.argsort(-new, kind="stable")[: k or len(ids)]
        return [ids[j] for j in order], new[order]

"""Hypothesis fuzzing of the index API (issue 15): random sequences of build / add / remove / update / search, and
bad calls in between, on every backend, compared after every step with a brute-force model (a dict id → vector).

Only the public BaseIndex API is used. Invariants: the live ids equal the model's; a search returns k live ids
ordered best first, each with its true score, and (on the exact backends) the top-k scores of brute force; a
refused call (unknown or duplicate id, a string as ids, a bad k, a zero or ragged vector, an operation the
backend cannot do) raises its typed error and changes nothing. Example counts come from the hypothesis profile
(tests/conftest.py): bounded in CI, `HYPOTHESIS_PROFILE=long` for a soak run.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from mgw.errors import DataError, DuplicateIdError, NotSupportedError, UnknownIdError
from mgw.index import make_index

DIM = 4
IDS = [f"i{n}" for n in range(24)] + ["a", "b", "ab", "ml:1", "ml:10"]
# (backend, build params, exact?): ANN backends are searched with a budget that covers these tiny sizes
BACKENDS = [("exact", {}, True), ("faiss", {"factory": "Flat"}, True), ("hnswlib", {"M": 16}, False),
            ("annoy", {"n_trees": 10}, False)]

coords = st.integers(-4, 4)
vector = st.lists(coords, min_size=DIM, max_size=DIM).filter(any)  # no zero vector (cosine)


def true_scores(model: dict[str, np.ndarray], q: np.ndarray) -> dict[str, float]:
    qn = q / np.linalg.norm(q)
    return {i: float(v @ qn / np.linalg.norm(v)) for i, v in model.items()}


def make_machine(backend: str, build_params: dict, exact: bool):
    class IndexVsModel(RuleBasedStateMachine):
        @initialize(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=12, unique=True),
                    data=st.data())
        def build(self, ids, data):
            self.index = make_index(backend, DIM, "cosine", threads=1, seed=3, **build_params)
            if backend == "hnswlib":
                self.index.set_query_params(efSearch=64)
            elif backend == "annoy":
                self.index.set_query_params(search_k=10_000)
            vecs = np.array([data.draw(vector) for _ in ids], np.float32)
            self.index.build(vecs, ids)
            self.model = dict(zip(ids, vecs))
            self.caps = self.index.capabilities()

        def unchanged_after(self, call, error):
            before = sorted(self.index.ids())
            with pytest.raises(error):
                call()
            assert sorted(self.index.ids()) == before

        @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True), data=st.data())
        def add(self, ids, data):
            vecs = np.array([data.draw(vector) for _ in ids], np.float32)
            if not self.caps["add"]:
                return self.unchanged_after(lambda: self.index.add(vecs, ids), NotSupportedError)
            if set(ids) & set(self.model):
                return self.unchanged_after(lambda: self.index.add(vecs, ids), DuplicateIdError)
            self.index.add(vecs, ids)
            self.model.update(zip(ids, vecs))

        @rule(data=st.data())
        def remove(self, data):
            if not self.caps["remove"]:
                return self.unchanged_after(lambda: self.index.remove([next(iter(self.model))]), NotSupportedError)
            if len(self.model) < 2:
                return
            ids = data.draw(st.lists(st.sampled_from(sorted(self.model)), min_size=1, max_size=len(self.model) - 1,
                                     unique=True))
            self.index.remove(ids)
            for i in ids:
                del self.model[i]

        @rule(data=st.data())
        def update(self, data):
            ids = data.draw(st.lists(st.sampled_from(sorted(self.model)), min_size=1, max_size=3, unique=True))
            vecs = np.array([data.draw(vector) for _ in ids], np.float32)
            if not self.caps["update"]:
                return self.unchanged_after(lambda: self.index.update(vecs, ids), NotSupportedError)
            self.index.update(vecs, ids)
            self.model.update(zip(ids, vecs))

        @rule(bad=st.sampled_from(["remove-unknown", "remove-string", "k-float", "k-string", "k-too-big",
                                   "zero-vector", "ragged", "string-vector", "ids-string"]))
        def refused(self, bad):
            some = next(iter(self.model))
            q = np.ones(DIM, np.float32)
            calls = {
                "remove-unknown": (lambda: self.index.remove([some, "nope"]),
                                   UnknownIdError if self.caps["remove"] else NotSupportedError),
                "remove-string": (lambda: self.index.remove(some), DataError if self.caps["remove"] else NotSupportedError),
                "k-float": (lambda: self.index.search(q, 1.5), DataError),
                "k-string": (lambda: self.index.search(q, "1"), DataError),
                "k-too-big": (lambda: self.index.search(q, len(self.model) + 1), DataError),
                "zero-vector": (lambda: self.index.search(np.zeros(DIM, np.float32), 1), DataError),
                "ragged": (lambda: self.index.search([[1, 2, 3, 4], [1, 2]], 1), DataError),
                "string-vector": (lambda: self.index.search(["1", "2", "3", "4"], 1), DataError),
                "ids-string": (lambda: self.index.add(np.ones((2, DIM), np.float32), "xy"),
                               DataError if self.caps["add"] else NotSupportedError),
            }
            call, error = calls[bad]
            self.unchanged_after(call, error)

        @rule(q=vector, k=st.integers(1, 6))
        def search(self, q, k):
            k = min(k, len(self.model))
            q = np.asarray(q, np.float32)
            ids, scores = self.index.search(q, k)
            truth = true_scores(self.model, q)
            assert len(ids) == k and len(set(ids)) == k and set(ids) <= set(self.model)
            np.testing.assert_allclose(scores, [truth[i] for i in ids], atol=1e-4)  # each id with its true score
            assert all(np.diff(scores) <= 1e-5)  # best first
            best = sorted(truth.values(), reverse=True)[:k]
            if exact:
                np.testing.assert_allclose(scores, best, atol=1e-4)
            else:  # approximate: the best match is found at these sizes
                assert scores[0] >= best[0] - 1e-4

        @invariant()
        def same_ids(self):
            if hasattr(self, "index"):
                assert sorted(self.index.ids()) == sorted(self.model) and len(self.index) == len(self.model)

    IndexVsModel.__name__ = f"IndexVsModel_{backend}"
    return IndexVsModel


for _backend, _params, _exact in BACKENDS:
    globals()[f"TestIndexMatchesModel_{_backend}"] = make_machine(_backend, _params, _exact).TestCase
del _backend, _params, _exact

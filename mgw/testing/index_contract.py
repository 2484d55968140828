"""The contract every index backend passes: same data, same queries, same expectations.

Use: subclass `IndexContract` in a test module, set `backend` (and `build_params`, `min_recall`);
pytest collects the inherited `test_*` methods. Capabilities decide which mutation tests expect
success and which expect NotSupportedError (with the index left unchanged).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mgw.errors import CorruptFileError, DataError, DimensionError, DuplicateIdError, NotSupportedError, UnknownIdError
from mgw.index import FilterPolicy, load_index, make_index

DIM = 32
N = 600


def clustered(n: int, dim: int = DIM, seed: int = 0, centers: int = 12) -> np.ndarray:
    """Seeded Gaussian clusters: easy enough that every ANN backend reaches high recall on it."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim)) * 3
    return (c[rng.integers(0, centers, n)] + rng.standard_normal((n, dim))).astype(np.float32)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


class IndexContract:
    backend: str = ""
    build_params: dict[str, Any] = {}
    query_params: dict[str, Any] = {}
    min_recall: float = 0.9

    # ---------------------------------------------------------------- fixtures
    @pytest.fixture(scope="class")
    def data(self):
        x = clustered(N)
        ids = [f"t{i:04d}" for i in range(N)]
        q = clustered(40, seed=1)
        return x, ids, q

    def make(self, metric: str = "cosine", **extra):
        index = make_index(self.backend, DIM, metric, threads=1, seed=7, **{**self.build_params, **extra})
        return index.set_query_params(**self.query_params)

    @pytest.fixture
    def index(self, data):
        x, ids, _ = data
        return self.make().build(x, ids)

    def truth(self, data, metric="cosine", k=10, allowed=None):
        x, ids, q = data
        ex = make_index("exact", DIM, metric).build(x, ids)
        return ex.search(q, k, filter=allowed)

    # ---------------------------------------------------------------- search semantics
    def test_shapes_and_ids(self, index, data):
        x, ids, q = data
        i2, s2 = index.search(q, 10)
        assert i2.shape == (len(q), 10) and s2.shape == (len(q), 10)
        i1, s1 = index.search(q[0], 10)
        assert i1.shape == (10,) and s1.shape == (10,)
        assert set(i2.ravel()) <= set(ids) and all(isinstance(v, str) for v in i1)
        assert len(index) == N

    @pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
    def test_recall_and_score_convention(self, data, metric):
        x, ids, q = data
        index = self.make(metric).build(x, ids)
        found, scores = index.search(q, 10)
        truth_ids, truth_scores = self.truth(data, metric)
        assert recall(found, truth_ids) >= self.min_recall
        # a returned id's score is its true metric value, and rows are ordered best first
        pos = {i: n for n, i in enumerate(ids)}
        xn = x / np.linalg.norm(x, axis=1, keepdims=True) if metric == "cosine" else x
        qn = q / np.linalg.norm(q, axis=1, keepdims=True) if metric == "cosine" else q
        for row in range(len(q)):
            v = xn[[pos[i] for i in found[row]]]
            expect = np.linalg.norm(v - qn[row], axis=1) if metric == "l2" else v @ qn[row]
            np.testing.assert_allclose(scores[row], expect, rtol=0.05, atol=0.05 * max(1, np.abs(expect).max()))
            d = np.diff(scores[row])
            assert (d <= 1e-4 * max(1, abs(scores[row]).max())).all() if metric != "l2" else (d >= -1e-3).all()

    def test_self_query_finds_itself(self, index, data):
        x, ids, _ = data
        found, scores = index.search(x[:20], 1)
        assert np.mean(found[:, 0] == np.array(ids[:20])) >= 0.9
        assert np.nanmax(np.abs(scores[found[:, 0] == np.array(ids[:20]), 0] - 1)) < 0.05

    # ---------------------------------------------------------------- filtered search
    @pytest.mark.parametrize("policy", [FilterPolicy(), FilterPolicy(brute_force_max=0),
                                        FilterPolicy(brute_force_max=0, overfetch_min_selectivity=0.0),
                                        FilterPolicy(brute_force_max=0, overfetch_min_selectivity=1.1)])
    @pytest.mark.parametrize("selectivity", [0.01, 0.1, 0.5])
    def test_filtered_recall_and_subset(self, index, data, policy, selectivity):
        x, ids, q = data
        rng = np.random.default_rng(3)
        allowed = set(rng.choice(ids, max(1, int(selectivity * N)), replace=False).tolist())
        index.filter_policy = policy
        found, scores = index.search(q, 10, filter=allowed)
        truth_ids, _ = self.truth(data, allowed=allowed)
        k_eff = min(10, len(allowed))
        for row in found:
            got = [v for v in row if v is not None]
            assert set(got) <= allowed
            assert len(got) == k_eff  # never fewer than k when k matches exist
        floor = 0.95 if selectivity <= 0.01 else self.min_recall
        assert recall([[v for v in r if v is not None] for r in found],
                      [[v for v in r if v is not None] for r in truth_ids]) >= floor

    def test_filter_callable_equals_set(self, index, data):
        x, ids, q = data
        allowed = {i for i in ids if int(i[1:]) % 3 == 0}
        a, _ = index.search(q[:5], 10, filter=allowed)
        b, _ = index.search(q[:5], 10, filter=lambda i: int(i[1:]) % 3 == 0)
        c, _ = index.search(q[:5], 10, filter=index.make_filter(allowed))
        assert (a == b).all() and (a == c).all()

    def test_filter_with_fewer_matches_than_k(self, index, data):
        x, ids, q = data
        found, scores = index.search(q[0], 10, filter={ids[1], ids[2], "not-an-id"})
        assert sorted(found) == sorted([ids[1], ids[2]]) and len(scores) == 2
        f2, s2 = index.search(q[:2], 10, filter={ids[1]})
        assert f2[0, 0] == ids[1] and f2[0, 1] is None and np.isnan(s2[0, 1])

    # ---------------------------------------------------------------- mutations
    def test_add(self, data):
        x, ids, q = data
        index = self.make().build(x[:500], ids[:500])
        if not index.capabilities()["add"]:
            with pytest.raises(NotSupportedError, match=self.backend):
                index.add(x[500:], ids[500:])
            assert len(index) == 500
            return
        index.add(x[500:], ids[500:])
        assert len(index) == N
        found, _ = index.search(x[550], 1)
        assert found[0] == ids[550]

    def test_remove_and_update(self, data):
        x, ids, q = data
        index = self.make().build(x, ids)
        caps = index.capabilities()
        before = index.search(q, 10)
        if not caps["remove"]:
            with pytest.raises(NotSupportedError, match=self.backend):
                index.remove(ids[:5])
            assert len(index) == N and (index.search(q, 10)[0] == before[0]).all()
        else:
            nearest = before[0][:, 0].tolist()[:5]
            index.remove(set(nearest))
            assert len(index) == N - len(set(nearest))
            after, _ = index.search(q, 10)
            assert not set(after.ravel()) & set(nearest)
            with pytest.raises(UnknownIdError):
                index.remove([nearest[0]])
        if not caps["update"]:
            with pytest.raises(NotSupportedError, match=self.backend):
                index.update(x[:1], ids[-1:])
        else:
            index.update(q[0], [ids[-1]])  # move the last item onto the first query
            found, scores = index.search(q[0], 1)
            assert found[0] == ids[-1] and abs(scores[0] - 1) < 1e-3

    # ---------------------------------------------------------------- bad input
    def test_bad_input_is_rejected_and_changes_nothing(self, index, data):
        x, ids, q = data
        before = index.search(q[:3], 5)
        count = len(index)
        with pytest.raises(DimensionError):
            index.search(np.ones(DIM + 1, dtype=np.float32), 5)
        bad = q[:2].copy()
        bad[0, 0] = np.nan
        with pytest.raises(DataError):
            index.search(bad, 5)
        for k in (0, -1, N + 1):
            with pytest.raises(DataError):
                index.search(q[0], k)
        if index.capabilities()["add"]:
            with pytest.raises(DuplicateIdError):
                index.add(x[:2], ["new-1", ids[0]])
            with pytest.raises(DuplicateIdError):
                index.add(x[:2], ["new-1", "new-1"])
            with pytest.raises(DimensionError):
                index.add(np.ones((1, DIM - 1), np.float32), ["new-2"])
            inf = x[:1].copy()
            inf[0, 3] = np.inf
            with pytest.raises(DataError):
                index.add(inf, ["new-3"])
        if index.capabilities()["remove"]:
            with pytest.raises(UnknownIdError):
                index.remove([ids[0], "nope"])
        assert len(index) == count
        after = index.search(q[:3], 5)
        assert (after[0] == before[0]).all()
        with pytest.raises(DataError):
            self.make().search(q[0], 1)
        with pytest.raises(DuplicateIdError):
            self.make().build(x[:3], ["a", "b", "a"])
        with pytest.raises(DataError):
            self.make().build(x[:3], ["a", "b"])
        with pytest.raises(DataError):
            index.set_query_params(no_such_param=1)

    def test_wrong_types_are_typed_errors(self, index, data):
        """Values of the wrong type are refused with a DataError, never coerced or iterated."""
        x, ids, q = data
        for k in (2.5, "3", True, None):
            with pytest.raises(DataError):
                index.search(q[0], k)
        assert len(index.search(q[0], np.int64(3))[0]) == 3  # numpy ints are ints
        for bad in ("abc", [[1.0, 2.0], [3.0]], [["a"] * DIM]):
            with pytest.raises(DataError):
                index.search(bad, 3)
        with pytest.raises(DataError):
            self.make().build([[0.0] * DIM, [1.0]], ["r1", "r2"])  # ragged
        for name in index.capabilities()["query_params"]:
            for value in (0 if name != "search_k" else -2, 1.5, "10", True):
                with pytest.raises(DataError):
                    index.set_query_params(**{name: value})
        with pytest.raises(DataError):
            index.set_query_params(threads=0)
        if index.capabilities()["remove"]:
            with pytest.raises(DataError):
                index.remove(ids[0])  # a string is one id, not a list of characters
        assert len(index) == N

    # ---------------------------------------------------------------- persistence
    def test_save_load_roundtrip(self, index, data, tmp_path):
        x, ids, q = data
        path = index.save(tmp_path / "ix")
        loaded = load_index(path)
        assert loaded.backend == index.backend and len(loaded) == len(index)
        a, sa = index.search(q, 10)
        b, sb = loaded.search(q, 10)
        assert (a == b).all()
        np.testing.assert_allclose(sa, sb, rtol=1e-5, atol=1e-6)
        st = index.stats()
        assert st["count"] == N and st["serialized_bytes"] > 0 and st["bytes_per_vector"] == st["serialized_bytes"] / N

    def test_corrupt_and_truncated_files(self, index, tmp_path):
        path = index.save(tmp_path / "ix")
        import json
        manifest = json.loads((path / "manifest.json").read_text())
        native = next(f for f in manifest["files"] if f != "ids.json")
        blob = (path / native).read_bytes()
        (path / native).write_bytes(blob[: len(blob) // 2])
        with pytest.raises(CorruptFileError):
            load_index(path)
        (path / native).write_bytes(blob)
        load_index(path)  # restored bytes load again
        manifest["files"][native] = "0" * 64
        (path / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(CorruptFileError):
            load_index(path)
        (path / "manifest.json").write_text("{not json")
        with pytest.raises(CorruptFileError):
            load_index(path)

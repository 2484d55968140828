"""Content store: ACID transactions, bad input, snapshots, retention, recovery (any backend)."""
from __future__ import annotations

import json
import logging
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgw.errors import CorruptFileError, DataError, DimensionError, DuplicateIdError, UnknownIdError
from mgw.store.backend import EXACT_SPEC
from mgw.store.content import ContentStore, StoreLockedError

DIM = 8
BACKENDS = [EXACT_SPEC, "exact", "hnswlib"]


def docs(ids):
    return [{"entity_id": i, "title": f"title {i}", "type": "movie", "genres": ["drama"]} for i in ids]


def vecs(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def state(store):
    ids, v = store.embeddings()
    return store.version, ids, v.tobytes(), sorted(store._published.live_ids())


@pytest.fixture(params=BACKENDS, ids=["numpy", "mgw-exact", "hnswlib"])
def store(request, tmp_path):
    s = ContentStore(tmp_path / "s", dim=DIM, backend=request.param, compact_min=6, max_snapshots=3)
    s.insert_batch(docs([f"a{i}" for i in range(10)]), vecs(10))
    yield s
    s.close()


def test_insert_search_update_delete(store):
    v = vecs(10)
    ids, scores = store.search(v[3], k=3)
    assert ids[0][0] == "a3" and scores[0][0] == pytest.approx(1.0, abs=1e-5)
    with store.transaction() as tx:
        tx.update_batch(docs(["a3"]), -v[3:4])
        tx.delete(["a4"])
        tx.insert_batch(docs(["b1"]), v[4:5])
    assert store.search(-v[3], 1)[0][0] == ["a3"]
    assert store.search(v[4], 1)[0][0] == ["b1"]
    assert "a4" not in store.search(v[4], 10)[0][0]
    assert store.get("a3")["title"] == "title a3" and len(store) == 10
    assert store.check()["consistent"]


@pytest.mark.parametrize("stage", ["row", "before_commit"])
def test_failure_half_way_changes_nothing(store, stage):
    before = state(store)
    calls = []

    def fault(s):
        calls.append(s)
        if s == stage and len(calls) >= 3:
            raise OSError("disk full (injected)")

    store._fault = fault
    with pytest.raises(OSError):
        with store.transaction() as tx:
            tx.insert_batch(docs([f"n{i}" for i in range(5)]), vecs(5, 1))
            tx.delete(["a1"])
    store._fault = None
    assert state(store) == before and store.check()["consistent"]


def test_index_build_failure_rolls_back(tmp_path):
    s = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC, compact_min=1, compact_ratio=0.01)
    s.insert_batch(docs(["x"]), vecs(1))
    before = state(s)
    orig = s.backend.factory

    class Broken:
        def build(self, *a):
            raise MemoryError("injected")

    object.__setattr__(s.backend, "factory", lambda d, m: Broken())
    with pytest.raises(MemoryError):
        s.insert_batch(docs(["y", "z"]), vecs(2, 3))
    object.__setattr__(s.backend, "factory", orig)
    assert state(s) == before
    s.close()


@pytest.mark.parametrize("bad", [
    lambda tx: tx.insert_batch(docs(["n1"]), np.zeros((1, DIM + 1), np.float32) + 1),
    lambda tx: tx.insert_batch(docs(["n1"]), np.full((1, DIM), np.nan, np.float32)),
    lambda tx: tx.insert_batch(docs(["n1", "n1"]), vecs(2)),
    lambda tx: tx.insert_batch(docs(["a1"]), vecs(1)),
    lambda tx: tx.update_batch(docs(["nope"]), vecs(1)),
    lambda tx: tx.delete(["nope"]),
    lambda tx: tx.insert_batch([{"entity_id": "n", "title": "t", "bogus": 1}], vecs(1)),
])
def test_bad_input_typed_error_store_unchanged(store, bad):
    before = state(store)
    with pytest.raises(DataError):
        with store.transaction() as tx:
            tx.insert_batch(docs(["ok1"]), vecs(1, 9))  # valid op earlier in the same batch is dropped too
            bad(tx)
    assert state(store) == before


def test_error_types(store):
    with pytest.raises(DimensionError):
        store.search(np.ones(DIM + 2), 3)
    with pytest.raises(DuplicateIdError):
        store.insert_batch(docs(["a1"]), vecs(1))
    with pytest.raises(UnknownIdError):
        store.get("nope")


def test_snapshot_dir_outside_root(tmp_path):
    with pytest.raises(DataError, match="outside"):
        ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC, snapshot_dir="../elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def test_single_writer_lock(tmp_path):
    s = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC)
    with pytest.raises(StoreLockedError):
        ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC)
    s.close()


def test_snapshot_recovery_replays_after_watermark(store, tmp_path):
    snap = store.snapshot()
    meta = json.loads(snap.path.with_name(snap.name[:-5] + ".meta.json").read_text())
    assert meta["count"] == 10 and meta["watermark"] == store.version and len(meta["sha256"]) == 64
    store.insert_batch(docs(["late"]), vecs(1, 5))
    with store.transaction() as tx:
        tx.delete(["a2"])
    backend, root = store.backend, store.root
    store.close()
    s2 = ContentStore(root, dim=DIM, backend=backend)
    assert s2.recovery["snapshot"] == snap.name and s2.recovery["replayed"] == 2
    assert s2.check()["consistent"] and s2.search(vecs(1, 5)[0], 1)[0][0] == ["late"]
    s2.close()


@pytest.mark.parametrize("damage", ["truncate", "flip", "no_meta"])
def test_corrupt_snapshot_is_skipped(tmp_path, damage, caplog):
    caplog.set_level(logging.WARNING)
    s = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC, max_snapshots=5)
    s.insert_batch(docs(["a", "b"]), vecs(2))
    good = s.snapshot(now=time.time() - 10)
    s.insert_batch(docs(["c"]), vecs(1, 2))
    bad = s.snapshot()
    s.close()
    data = bad.path.read_bytes()
    if damage == "truncate":
        bad.path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        bad.path.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    else:
        bad.path.with_name(bad.name[:-5] + ".meta.json").unlink()
    s2 = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC)
    assert s2.recovery["snapshot"] == good.name and bad.name in s2.recovery["skipped"]
    assert "skipping snapshot" in caplog.text
    assert s2.check()["consistent"] and len(s2) == 3
    with pytest.raises(CorruptFileError):
        s2.restore(bad.name)
    s2.close()


def test_retention_max_snapshots_and_age(tmp_path):
    s = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC, max_snapshots=3, max_age_s=3600)
    s.insert_batch(docs(["a"]), vecs(1))
    now = time.time()
    for i in range(5):
        s.snapshot(now=now - 7200 + i)  # written two hours ago
    assert len(s.snapshots.valid()) == 3  # max_snapshots applied as each was written
    s.prune()  # now all are past max_age; the newest stays as the recovery point
    assert len(s.snapshots.valid()) == 1
    for i in range(5):
        s.snapshot(now=now + i)
    names = [x.name for x in s.snapshots.valid()]
    assert len(names) == 3
    (s.snapshots.dir / ".content-x.rvdb.tmp").write_bytes(b"half")
    s.prune()
    assert not list(s.snapshots.dir.glob(".*tmp*"))
    s.close()


def test_restore_point_in_time_and_disaster(tmp_path):
    s = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC)
    s.insert_batch(docs(["a", "b"]), vecs(2))
    snap = s.snapshot()
    with s.transaction() as tx:
        tx.delete(["a"])
        tx.insert_batch(docs(["c"]), vecs(1, 4))
    assert s.restore(snap.name)["rows"] == 2
    assert s.ids() == ["a", "b"] and s.check()["consistent"]
    s.close()
    os.remove(tmp_path / "s" / "content.db")  # the database is lost; snapshots remain
    s = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC)
    assert len(s) == 0
    s.restore()
    assert s.ids() == ["a", "b"] and s.search(vecs(2)[1], 1)[0][0] == ["b"]
    s.close()


ops = st.lists(st.tuples(st.sampled_from(["ins", "upd", "del", "bad"]), st.integers(0, 30), st.integers(1, 4)),
               min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_matches_a_dict_model(tmp_path_factory, seq):
    """Random batches (some invalid) against a plain dict: rows and search always agree with the model."""
    s = ContentStore(tmp_path_factory.mktemp("h"), dim=DIM, backend=EXACT_SPEC, compact_min=3, compact_ratio=0.1)
    model: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(1)
    for op, start, n in seq:
        ids = [f"i{start + j}" for j in range(n)]
        v = rng.normal(size=(n, DIM)).astype(np.float32)
        try:
            with s.transaction() as tx:
                if op == "ins":
                    tx.insert_batch(docs(ids), v)
                elif op == "upd":
                    tx.update_batch(docs(ids), v)
                elif op == "del":
                    tx.delete(ids)
                else:
                    tx.insert_batch(docs(ids + ids[:1]), np.vstack([v, v[:1]]))
        except DataError:
            continue
        if op in ("ins", "upd"):
            model.update(zip(ids, v))
        elif op == "del":
            for i in ids:
                model.pop(i)
    got_ids, got_v = s.embeddings()
    assert got_ids == sorted(model) and all(np.array_equal(model[i], x) for i, x in zip(got_ids, got_v))
    assert s._published.live_ids() == set(model)
    for i in list(model)[:3]:
        assert s.search(model[i], 1)[0][0] == [i]
    s.close()


def test_auto_persist_interval(tmp_path):
    s = ContentStore(tmp_path / "s", dim=DIM, backend=EXACT_SPEC, persist_interval_s=3600)
    s.insert_batch(docs(["a"]), vecs(1))  # no snapshot yet: one is written after the commit
    s.insert_batch(docs(["b"]), vecs(1, 1))  # within the interval: none
    assert [x.meta["count"] for x in s.snapshots.valid()] == [1]
    s.persist_interval_s = 1e-6
    s.insert_batch(docs(["c"]), vecs(1, 2))
    assert [x.meta["count"] for x in s.snapshots.valid()] == [3, 1]
    s.close()

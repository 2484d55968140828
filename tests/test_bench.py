"""Benchmark harness: metrics definitions, dataset format/determinism, and a tiny end-to-end run."""
from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest

from mgw.bench import datasets as dsm
from mgw.bench.metrics import lid_mle, recall_at_k, recall_with_ties, relative_contrast
from mgw.bench.runner import Config, bench_config, bench_filtered, get_or_build, measure_qps, run_benchmark
from mgw.index import make_index


def test_recall_at_k_counts_ids_and_ignores_padding():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    found = np.array([[3, 2, 9], [-1, -1, 4]])
    np.testing.assert_allclose(recall_at_k(found, truth, 3), [2 / 3, 1 / 3])


def test_recall_with_ties_accepts_equal_distance():
    true_d = np.array([[0.1, 0.2, 0.3]])
    found_d = np.array([[0.1, 0.2, 0.3 + 5e-4]])  # a different id at the same k-th distance
    assert recall_with_ties(found_d, true_d, 3)[0] == 1.0
    assert recall_with_ties(np.array([[0.1, 0.2, np.nan]]), true_d, 3)[0] == pytest.approx(2 / 3)


def test_lid_of_uniform_ball_matches_dimension():
    # k-NN distances of points uniform in a d-ball around the query: P(r) ∝ r^d → LID ≈ d
    rng = np.random.default_rng(0)
    d = 8
    r = np.sort(rng.random((4000, 50)) ** (1 / d), axis=1)
    assert lid_mle(r, 50) == pytest.approx(d, rel=0.1)


def test_relative_contrast_is_mean_over_kth():
    train = np.array([[0.0, 0], [1, 0], [3, 0]], dtype=np.float32)
    q = np.array([[0.0, 0]], dtype=np.float32)
    knn = np.array([[0.0, 1.0]])
    assert relative_contrast(train, q, knn, k=2) == pytest.approx((0 + 1 + 3) / 3 / 1.0)


def test_synth_dataset_is_seeded_normalized_and_in_ann_benchmarks_format(tmp_path):
    a = dsm.load_dataset("synth-2k", embeddings=None, queries=50, seed=3, bench_dir=tmp_path)
    b = dsm.build_dataset("synth-2k", None, 50, 3)
    np.testing.assert_array_equal(a.train, b.train)
    assert a.train.shape == (2000, 384) and a.test.shape == (50, 384)
    np.testing.assert_allclose(np.linalg.norm(a.train, axis=1), 1, atol=1e-5)
    with h5py.File(tmp_path / "synth-2k.hdf5") as f:
        assert set(f) == {"train", "test", "neighbors", "distances"}
        assert f.attrs["distance"] == "angular" and f.attrs["dimension"] == 384
        assert f["neighbors"].shape == (50, 100)
    ex = make_index("exact", 384).build(a.train, [str(i) for i in range(len(a.train))])
    ids, scores = ex.search(a.test, 100)
    np.testing.assert_array_equal(ids.astype(int)[:, :10], a.neighbors[:, :10])
    np.testing.assert_allclose(1 - scores, a.distances, atol=1e-5)


def test_catalog_dataset_holds_out_queries_and_fits_synth(tmp_path):
    emb = dsm.SynthGenerator.default(384, 0).sample(600, 0)
    path = tmp_path / "emb.npy"
    np.save(path, emb)
    ds = dsm.load_dataset(dsm.CATALOG, embeddings=path, queries=100, seed=1, bench_dir=tmp_path)
    assert len(ds.train) == 500 and len(ds.test) == 100
    rows = {r.tobytes() for r in dsm.normalize(emb)}
    assert all(r.tobytes() in rows for r in ds.test)
    assert not ({r.tobytes() for r in ds.train} & {r.tobytes() for r in ds.test})
    synth = dsm.load_dataset("synth-1000", embeddings=path, queries=20, seed=1, bench_dir=tmp_path)
    assert synth.attrs["generator"].endswith("fit") and len(synth.train) == 1000
    with pytest.raises(FileNotFoundError):
        dsm.build_dataset(dsm.CATALOG, tmp_path / "missing.npy", 10, 1)
    assert dsm.parse_synth_size("synth-1m") == 1_000_000 and dsm.parse_synth_size("sift") is None


@pytest.fixture(scope="module")
def small_ds(tmp_path_factory):
    return dsm.load_dataset("synth-2k", embeddings=None, queries=40, seed=5, bench_dir=tmp_path_factory.mktemp("b"))


def test_measure_pair_interleaves_and_sees_a_slower_callable():
    from mgw.bench.runner import measure_pair

    q = np.zeros((40, 4), np.float32)
    calls = []
    fast = lambda v: calls.append("a")  # noqa: E731
    slow = lambda v: (calls.append("b"), time.sleep(0.0005))  # noqa: E731
    r = measure_pair(fast, slow, q, runs=2, warmup=0)
    assert r["a"]["qps"] > 2 * r["b"]["qps"] and len(r["a"]["latencies_ns"]) == 40
    assert calls[:4] == ["b", "a", "a", "b"] and calls[80:84] == ["a", "b", "b", "a"]  # alternating order
    assert r["ratio"] > 2 and r["ratio_best"] > 2 and len(r["ratio_rounds"]) == 2


def test_measure_batch_pair_alternates_whole_sets_and_takes_the_median_round():
    from mgw.bench.runner import measure_batch_pair

    q = np.zeros((30, 4), np.float32)
    calls = []
    fast = lambda v: calls.append(("a", len(v)))  # noqa: E731
    slow = lambda v: (calls.append(("b", len(v))), time.sleep(0.003))  # noqa: E731
    r = measure_batch_pair(fast, slow, q, runs=3)
    assert [c for c, _ in calls] == ["a", "b", "a", "b", "b", "a", "a", "b"] and {n for _, n in calls} == {30}
    assert r["ratio"] > 2 and r["a"] > r["b"] and len(r["ratio_rounds"]) == 3


def test_measure_qps_modes():
    q = np.zeros((20, 4), dtype=np.float32)
    calls = []
    single = measure_qps(lambda v: calls.append(1), q, "single", runs=2, warmup=5)
    assert single["qps"] > 0 and single["latencies_ns"].shape == (20,) and len(calls) == 5 + 40
    assert measure_qps(None, q, "batch", runs=1, search_batch=lambda v: None)["qps"] > 0
    assert measure_qps(lambda v: None, q, "clients", runs=1, threads=2)["qps"] > 0
    with pytest.raises(ValueError):
        measure_qps(None, q, "bogus")


def test_bench_config_measures_recall_and_raw_ratio(small_ds, tmp_path):
    cfg = Config("hnswlib", {"M": 16, "efConstruction": 100}, [{"efSearch": 10}, {"efSearch": 100}], {"efSearch": 100})
    rows, lats, index = bench_config(small_ds, cfg, runs=1, threads=1, cache_dir=tmp_path)
    assert len(rows) == 2 and rows[1]["recall"] >= rows[0]["recall"] and rows[1]["recall"] > 0.9
    assert rows[1]["ratio_qps_single"] > 0 and "ratio_qps_single" not in rows[0]
    assert rows[1]["ratio_qps_batch_1t"] > 0 and rows[1]["ratio_qps_batch"] > 0
    assert len(json.loads(rows[1]["ratio_qps_single_rounds"])) == 7 and rows[1]["ratio_qps_single_median_round"] > 0
    assert rows[0]["insert_per_s"] > 0 and rows[0]["bytes_per_vector"] > 384
    again, info = get_or_build(small_ds, cfg, threads=1, cache_dir=tmp_path)
    assert info["cached"] and len(again) == len(small_ds.train)
    frows = bench_filtered(small_ds, index, cfg.label, n_queries=20)
    assert [r["selectivity"] for r in frows] == [0.01, 0.1, 0.5]
    assert all(r["min_results"] == 10 for r in frows) and frows[0]["recall"] >= 0.95


def test_run_benchmark_writes_summary_and_figures(tmp_path, small_ds):
    s = run_benchmark(["synth-2k"], ["hnswlib", "exact"], embeddings=None, queries=40, runs=1, threads=1, seed=5,
                      out_dir=tmp_path, bench_dir=tmp_path / "data", filtered_queries=20)
    bench = json.loads((tmp_path / "metrics" / "bench.json").read_text())
    assert bench["_provenance"]["machine"]["cores"] >= 1
    assert bench["datasets"]["synth-2k"]["rc10"] > 1 and bench["datasets"]["synth-2k"]["lid10"] > 1
    assert bench["best_qps_at_recall"]["synth-2k"]["exact"]["0.99"]["recall"] == 1.0
    assert {c["id"] for c in bench["claims"]} >= {"s1.1.1-recall", "s1.1.1-qps", "s1.1.1-memory"}  # mgw/claims.py
    assert "hnswlib(M=32,efConstruction=200)" in bench["raw_ratios"]["synth-2k"]
    h = bench["headline"]
    assert 0 < h["min_raw_ratio_single"] <= min(v["ratio_qps_single"] for v in bench["raw_ratios"]["synth-2k"].values())
    assert h["min_raw_ratio_batch"] > 0 and h["min_raw_ratio_single_at"].startswith("synth-2k | ")
    assert (tmp_path / "bench" / "results.parquet").exists() and len(s["figures"]) == 4
    assert [f["selectivity"] for f in bench["filtered"]] == [0.01, 0.1, 0.5]


def test_ratios_module_measures_each_default_point(tmp_path):
    from mgw.bench.ratios import main

    out = main(["synth-2k", "--embeddings", "", "--backends", "exact", "--grid", "tiny", "--queries", "40",
                "--runs", "1", "--threads", "1", "--bench-dir", str(tmp_path), "--out", str(tmp_path / "r.json")])
    assert out["headline"]["min_raw_ratio_single"] > 0 and out["headline"]["min_raw_ratio_batch"] > 0
    assert json.loads((tmp_path / "r.json").read_text())["raw_ratios"]["synth-2k"]["exact"]["ratio_qps_batch_1t"] > 0

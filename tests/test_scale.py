"""mgw scale: power-law fits, limits, the synthetic inputs, child-process measurement, and the command at tiny n."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mgw.config import load_params
from mgw.errors import DataError
from mgw.scale import synth
from mgw.scale.child import ChildError, run_in_child
from mgw.scale.fit import fit_power_law
from mgw.scale.limits import MEMORY_WALL_BYTES, crossing, memory_crossing, one_machine


def test_power_law_recovers_exponent_with_ci():
    rng = np.random.default_rng(0)
    n = np.repeat([1e4, 3e4, 1e5, 3e5], 3)
    y = 2e-3 * n ** 1.3 * np.exp(rng.normal(0, 0.05, len(n)))
    f = fit_power_law(n, y, bootstrap=500, seed=1)
    assert abs(f.exponent - 1.3) < 0.05
    assert f.ci95[0] < 1.3 < f.ci95[1] and f.ci95[1] - f.ci95[0] < 0.2
    assert f.r2 > 0.99
    assert f.solve(float(f.predict(5e5))) == pytest.approx(5e5, rel=1e-6)


def test_power_law_needs_two_sizes():
    with pytest.raises(DataError):
        fit_power_law([1e4, 1e4], [1.0, 2.0])
    assert fit_power_law([1e4, 2e4], [1.0, 2.0], bootstrap=100).ci95 is None  # two points: no CI


def test_limits_pick_the_binding_constraint_and_label_extrapolation():
    lat = fit_power_law([1e4, 1e5], [50.0, 100.0], bootstrap=0)  # p95 µs, exponent 0.301 → 200 µs at 1e6
    flat = fit_power_law([1e4, 1e5], [1.0, 1.0], bootstrap=0)
    mem = fit_power_law([1e4, 1e5], [1e7, 1e8], bootstrap=0)  # linear: 24 GiB at ≈ 2.6e8
    c = crossing(lat, 200.0)
    assert c["n"] == pytest.approx(1e6, rel=0.01) and c["extrapolated"]
    assert crossing(flat, 5.0) is None
    assert memory_crossing([mem])["n"] == pytest.approx(MEMORY_WALL_BYTES / 1e3, rel=0.01)
    fits = {"index.hnswlib.p95_us": lat, "index.hnswlib.p50_us": flat, "index.hnswlib.rss_delta_bytes": mem,
            "gat.rerank_p50_ms": flat, "hypergraph.query_p95_ms": None}
    out = one_machine(fits, ["hnswlib"], {"hnswlib": True}, {"hnswlib": 0.97})
    assert out["hnswlib"]["binding"] == "search_p95_us"
    assert out["hnswlib"]["max_titles"] == c["n"] and out["hnswlib"]["extrapolated"]


def test_catalog_params_size_the_simulated_source():
    from mgw.data import ingest as ing

    p = synth.catalog_params(load_params(environ={}), 2000)
    items = ing.ingest(p, show_progress=False).items
    assert 2000 * 1.0 <= len(items) <= 2000 * 1.1  # listings = titles × (1 + duplicateRate)
    with pytest.raises(DataError):
        synth.catalog_params(load_params(environ={}), 10)


def test_generator_round_trip_and_token_hash_embedder(tmp_path):
    gen = synth.SynthGenerator.default(384, 3)
    path = synth.save_generator(gen, tmp_path / "g.npz")
    assert np.array_equal(synth.vectors(path, 50, 7), gen.sample(50, 7))
    e = synth.TokenHashEmbedder(384, 42)
    v = e.encode(["A rogue agent battles a cartel. Action", "Battles a cartel, a rogue agent! Action",
                  "Two estranged brothers reconnect one summer. Drama"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > 0.9 > v[0] @ v[2]


def test_child_process_reports_result_and_errors():
    out = run_in_child("mgw.scale.stages:cache", {"params": load_params(environ={}).model_dump(), "n": 500,
                       "requests": 2000, "size": 50, "alpha": 1.0, "seed": 1}, threads=1, timeout_s=120)
    assert 0 < out["hit_ratio"] < 1 and out["ru_maxrss_bytes"] > 0 and out["child_wall_s"] > 0
    with pytest.raises(ChildError, match="DataError"):
        run_in_child("mgw.scale.stages:cache", {"params": {}, "n": 0, "requests": 10, "size": 5, "alpha": 1.0,
                                               "seed": 1}, threads=1, timeout_s=120)


def test_mgw_scale_command_at_tiny_sizes(tmp_path, monkeypatch):
    """The whole stage at n = 1K / 2K, in-process (the spawned path is the test above), no Ray: the table, the
    fits, every headline key, and the GAT reranking through the index stage's index (the served path)."""
    from mgw.cli import main

    monkeypatch.setenv("MGW_SCALE__EMBED_SIZES", "[8, 16]")
    monkeypatch.setenv("MGW_SCALE__QUERIES", "30")
    monkeypatch.setenv("MGW_SCALE__RUNS", "1")
    monkeypatch.setenv("MGW_SCALE__CACHE_REQUESTS", "5000")
    monkeypatch.setenv("MGW_SCALE__BOOTSTRAP", "50")
    monkeypatch.setenv("MGW_SCALE__ISOLATE", "false")
    rc = main(["scale", "--sizes", "1k", "2k", "--backends", "hnswlib", "--no-ray",
               "--out-dir", str(tmp_path), "--work-dir", str(tmp_path / "work"), "--no-progress"])
    assert rc == 0
    m = json.loads((tmp_path / "metrics" / "scale.json").read_text())
    assert not m["errors"]
    h = m["headline"]
    assert set(h["max_titles_one_machine"]) == {"hnswlib"}
    for stage in ("ingest", "resolve", "embed", "hypergraph_build", "gat_rerank_p50", "cache_hit_ratio",
                  "index_build.hnswlib", "search_p99.hnswlib"):
        assert np.isfinite(h["exponents"][stage]["exponent"]), stage
    assert "ray_overhead_ratio" in h and h["largest_n_measured"] == 2000
    rows = {(r["stage"], r["n"], r["backend"]): r for r in m["rows"]}
    assert rows[("index", 2000, "hnswlib")]["meets_recall"] and rows[("index", 2000, "hnswlib")]["recall"] >= 0.95
    assert rows[("embed", 2000, None)]["extrapolated"] and rows[("embed", 16, None)]["measured"]
    assert rows[("cache", 2000, None)]["hit_ratio"] < rows[("cache", 1000, None)]["hit_ratio"]
    gat = rows[("gat", 2000, None)]
    assert gat["index_source"] == "index stage" and gat["pseudo_history"] == "ann index"
    assert gat["index_query_params"]["efSearch"] == load_params(environ={}).index.efSearch  # served setting
    assert (tmp_path / "scale" / "results.csv").exists()
    assert not list((tmp_path / "work").glob("index-*"))  # the saved indexes are removed after the run


def test_gat_stage_serves_through_the_index_not_a_scan(tmp_path):
    """The setup bug of the first run: the stage scanned all n item vectors per query (O(n)). Served, the
    pseudo-history comes through the ANN index; at 10K items the scan is measurably slower, interleaved."""
    from mgw.scale.stages import gat

    gen = synth.save_generator(synth.SynthGenerator.default(384, 1), tmp_path / "g.npz")
    params = load_params(overrides={"index": {"M": 12, "efConstruction": 40}}, environ={})  # a quick build
    out = gat(params.model_dump(), str(gen), 10_000, 40, 1, runs=2)
    assert out["index_source"] == "built here" and out["pseudo_history"] == "ann index"
    assert out["rerank_p50_ms"] < out["scan_rerank_p50_ms"]


def test_grid_presets_and_explicit_overrides():
    first = load_params(environ={}).scale
    assert (first.grid, first.max_n, first.ray_overhead) == ("first-look", 10_000, False)
    assert first.backends == ["hnswlib", "faiss-hnsw-sq8"]
    full = load_params(overrides={"scale": {"grid": "full"}}, environ={}).scale
    assert (full.max_n, full.ray_overhead, len(full.backends)) == (300_000, True, 4)
    one_m = load_params(overrides={"scale": {"grid": "full", "max_n": 1_000_000}}, environ={}).scale
    assert one_m.max_n == 1_000_000 and one_m.ray_overhead
    from mgw.config import InvalidConfigError

    with pytest.raises(InvalidConfigError):
        load_params(overrides={"scale": {"grid": "huge"}}, environ={})


def test_resume_reuses_matching_cells_only(tmp_path):
    from mgw.scale.run import run_scale

    params = load_params(overrides={"scale": {"queries": 20, "cache_requests": 2000, "bootstrap": 0,
                                              "isolate": False}}, environ={})
    kw = dict(sizes=[500, 1000], stages=["hypergraph", "cache"], backends=["hnswlib"], ray=False, progress=False,
              work_dir=tmp_path / "work")
    a = run_scale(params, tmp_path / "a", **kw)
    b = run_scale(params, tmp_path / "b", resume=True, **kw)
    assert all(r.get("resumed") for r in b["rows"]) and len(b["rows"]) == len(a["rows"]) == 4
    assert [r["hit_ratio"] for r in b["rows"] if r["stage"] == "cache"] == \
        [r["hit_ratio"] for r in a["rows"] if r["stage"] == "cache"]
    changed = params.model_copy(update={"scale": params.scale.model_copy(update={"cache_size": 100})})
    c = run_scale(changed, tmp_path / "c", resume=True, **kw)  # the cache cells' input changed: measured again
    assert [bool(r.get("resumed")) for r in c["rows"]] == [True, False, True, False]

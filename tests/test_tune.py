"""mgw.tune: search-space and storage validation, Pareto/selection logic, build reuse, a small real study
end to end (SQLite), and --apply keeping params.yaml's comments."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgw.cli import main as cli_main
from mgw.config import ROOT, load_params
from mgw.errors import NotSupportedError
from mgw.tune import harness, select
from mgw.tune.apply import apply_config, round_trip_yaml
from mgw.tune.storage import StorageError, normalize_url, open_storage
from mgw.tune.study import BuildCache, SearchSpace, TuneConfigError, make_sampler

SPACE = {"M": [8, 16], "efConstruction": [40, 80], "efSearch": [10, 32, 64]}
SMALL_TUNE = {"queries": 100, "runs": 1, "confirm_runs": 1, "spread_builds": 2, "threads": 2, "population": 4,
              "space": SPACE, "backends": ["hnswlib", "faiss-hnsw-flat"], "max_cached_builds": 16}


@pytest.fixture(scope="module")
def small_data() -> harness.TuneData:
    return harness.split(harness.synthetic_vectors(1500, dim=32, seed=3), 100, 10, seed=7, name="synthetic")


@pytest.fixture()
def emb_file(tmp_path) -> Path:
    path = tmp_path / "embeddings.npy"
    np.save(path, harness.synthetic_vectors(1200, dim=32, seed=5))
    return path


@pytest.fixture()
def small_params(tmp_path) -> Path:
    """A params.yaml for tests: the repo file with a small tune section (comments kept)."""
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text())
    y = round_trip_yaml()
    doc = y.load(path.read_text())
    doc["tune"].update(SMALL_TUNE)
    with path.open("w") as f:
        y.dump(doc, f)
    return path


# ----------------------------------------------------------------------------- validation before any trial
@pytest.mark.parametrize("backends, space, needle", [
    (["hnswlib", "scann"], SPACE, "unknown backend"),
    ([], SPACE, "no backends"),
    (["hnswlib"], {**SPACE, "nprobe": [1]}, "unknown parameter"),
    (["hnswlib"], {**SPACE, "efSearch": []}, "efSearch: empty search space"),
    (["hnswlib"], {"M": [8], "efConstruction": [40]}, "efSearch: empty search space"),
    (["hnswlib"], {**SPACE, "M": [1, 8]}, "M: values must be >= 2"),
    (["hnswlib"], {**SPACE, "efConstruction": [0]}, "positive integers"),
])
def test_search_space_rejects_bad_input(backends, space, needle):
    with pytest.raises(TuneConfigError, match=needle):
        SearchSpace.create(backends, space)


def test_unknown_sampler_is_rejected():
    with pytest.raises(TuneConfigError, match="unknown sampler"):
        make_sampler("random-walk", 0, 4)


@pytest.mark.parametrize("url, needle", [
    ("not a url", "not a database URL"),
    ("redis://127.0.0.1:6379/0", "unknown database 'redis'"),
    ("sqlite://", "in-memory SQLite"),
])
def test_bad_storage_urls(url, needle):
    with pytest.raises(StorageError, match=needle):
        normalize_url(url)


def test_postgres_url_gets_psycopg3_driver():
    assert normalize_url("postgresql://u:pw@127.0.0.1:5432/db").startswith("postgresql+psycopg://u:pw@")


def test_unreachable_storage_fails_fast_with_masked_password():
    t0 = time.perf_counter()
    with pytest.raises(StorageError, match="cannot reach Optuna storage") as e:
        open_storage("postgresql://user:secret@127.0.0.1:1/optuna", "s", connect_timeout_s=2)
    assert "secret" not in str(e.value)
    assert time.perf_counter() - t0 < 30  # the connect timeout is honoured: no hang (generous for a loaded machine)


def test_cli_bad_input_errors_before_any_trial(tmp_path, emb_file, capsys):
    db = tmp_path / "x.db"
    rc = cli_main(["tune", "--embeddings", str(emb_file), "--storage", f"sqlite:///{db}", "--backends",
                   "hnswlib,nope", "--metrics-dir", str(tmp_path), "--no-progress"])
    assert rc == 2 and "unknown backend" in capsys.readouterr().err
    assert not db.exists() and not (tmp_path / "tune.json").exists()
    rc = cli_main(["tune", "--embeddings", str(emb_file), "--space", "efSearch=", "--storage",
                   f"sqlite:///{db}", "--metrics-dir", str(tmp_path), "--no-progress"])
    assert rc == 2 and "efSearch: empty search space" in capsys.readouterr().err
    rc = cli_main(["tune", "--embeddings", str(emb_file), "--storage", "postgresql://u@127.0.0.1:1/x",
                   "--metrics-dir", str(tmp_path), "--no-progress"])
    assert rc == 2 and "cannot reach Optuna storage" in capsys.readouterr().err
    assert not (tmp_path / "tune.json").exists()


# ----------------------------------------------------------------------------- selection logic
rows_strategy = st.lists(st.tuples(st.floats(0, 1), st.floats(1, 1e5)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.floats(0.5, 1.0))
def test_pareto_front_and_choice_properties(points, target):
    rows = [{"number": i, "recall": r, "qps": q, "repeat_of": None} for i, (r, q) in enumerate(points)]
    front = select.pareto_front(rows)
    assert front
    for f in front:  # nothing dominates a front member
        assert not any(select.dominates(o, f) for o in rows)
    for r in rows:  # everything off the front is dominated by (or equal to) a front member
        if r not in front:
            assert any(select.dominates(f, r) or (f["recall"], f["qps"]) == (r["recall"], r["qps"]) for f in front)
    chosen = select.choose(rows, target)
    feasible = [r for r in rows if r["recall"] >= target]
    if not feasible:
        assert chosen is None
    else:
        assert chosen["recall"] >= target and chosen["qps"] == max(r["qps"] for r in feasible)


def test_exact_neighbors_match_full_sort(small_data):
    sims = small_data.queries @ small_data.base.T  # ground truth from mgw.bench
    assert np.array_equal(small_data.neighbors[:, 0], np.argmax(sims, axis=1))
    full = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    assert np.array_equal(np.sort(full, axis=1), np.sort(small_data.neighbors, axis=1))


def test_split_is_seeded_and_disjoint():
    x = harness.synthetic_vectors(400, dim=8, seed=1)
    a = harness.split(x, 50, 5, seed=9, name="a")
    b = harness.split(x, 50, 5, seed=9, name="b")
    assert np.array_equal(a.queries, b.queries)
    assert not (a.queries[:, None, :] == a.base[None, :, :]).all(axis=2).any()
    with pytest.raises(Exception, match="NaN"):
        harness.split(np.full((100, 4), np.nan), 10, 5, 0, "bad")


# ----------------------------------------------------------------------------- builds and samplers
def test_build_cache_reuses_one_build_per_m_efc(small_data):
    cache = BuildCache(small_data, threads=2, max_builds=2)
    i1, _, hit1 = cache.get("hnswlib", 8, 40)
    i2, _, hit2 = cache.get("hnswlib", 8, 40)
    assert i1 is i2 and not hit1 and hit2
    low = harness.measure(i1, small_data, 10, runs=1)
    high = harness.measure(i1, small_data, 200, runs=1)
    assert high["recall"] >= low["recall"] and high["recall"] > 0.9
    assert cache.nbytes("hnswlib", 8, 40) > 0
    cache.get("faiss-hnsw-sq8", 8, 40)
    cache.get("faiss-hnsw-flat", 8, 40)
    assert cache.stats() == {"hits": 1, "builds": 3, "cached_now": 2}


@pytest.mark.parametrize("sampler", ["nsga2", "tpe"])
def test_samplers_are_seeded(sampler):
    space = SearchSpace.create(["hnswlib", "faiss-hnsw-flat"], SPACE)

    def first_configs():
        study = optuna.create_study(directions=["maximize", "maximize"], sampler=make_sampler(sampler, 11, 4))
        study.optimize(lambda t: (len(space.suggest(t)), 1.0), n_trials=4)
        return [t.params for t in study.trials]

    assert first_configs() == first_configs()


# ----------------------------------------------------------------------------- end to end
def test_tune_end_to_end_sqlite(tmp_path, emb_file, small_params, capsys):
    before = small_params.read_text()
    db = tmp_path / "optuna" / "t.db"
    argv = ["--params", str(small_params), "tune", "--embeddings", str(emb_file), "--trials", "8",
            "--storage", f"sqlite:///{db}", "--study", "t", "--metrics-dir", str(tmp_path), "--no-progress",
            "--recall-target", "0.9"]
    rc = cli_main(argv)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert small_params.read_text() == before  # no --apply → params untouched
    res = json.loads((tmp_path / "tune.json").read_text())
    assert res["n_trials_total"] == 8 and len(res["trials"]) == 8
    assert res["dataset"]["n_queries"] == 100 and res["dataset"]["n_base"] == 1100
    # one build per distinct (backend, M, efConstruction), plus the seed default; every other use is a hit
    keys = {(r["backend"], r["M"], r["efConstruction"]) for r in res["trials"] if r["repeat_of"] is None}
    assert res["cache"]["builds"] == len(keys | {("hnswlib", 32, 200)})
    assert res["cache"]["hits"] >= sum(r["repeat_of"] is None for r in res["trials"]) - len(keys)
    chosen, default = res["chosen"], res["default"]
    assert chosen["recall"] >= 0.9 and chosen["meets_target"]
    assert default["config"] == {"backend": "hnswlib", "M": 32, "efConstruction": 200, "efSearch": 100}
    assert 0 < default["recall"] <= 1 and default["qps"] > 0
    assert res["ratio"]["qps_tuned_over_default"] == pytest.approx(chosen["qps"] / default["qps"])
    front = {r["number"]: r for r in res["trials"] if r["number"] in res["pareto_front"]}
    assert front and all(not any(select.dominates(o, f) for o in res["trials"]) for f in front.values())
    spread = res["build_spread"]
    assert len(spread["builds"]) == 2 and spread["recall_min"] <= spread["recall_max"]
    assert res["_provenance"]["seed"] == 42
    assert "→" in out and "× the default" in out
    # a second process joins the same SQLite study; trials accumulate
    rc = cli_main(argv[:-2] + ["--trials", "2", "--worker", "1", "--no-decide"])
    assert rc == 0
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{db}")
    assert len(study.trials) == 10 and {t.user_attrs["worker"] for t in study.trials} == {0, 1}
    # --trials 0 --apply: decide from the stored study and write the choice into params.yaml (only index:)
    rc = cli_main(argv[:-2] + ["--trials", "0", "--apply"])
    res = json.loads((tmp_path / "tune.json").read_text())
    cfg = res["chosen"]["config"]
    if cfg["backend"] == "hnswlib" or "factory" in load_params(small_params, environ={}).index.model_fields:
        assert rc == 0 and res["applied"]["index.efSearch"]["new"] == cfg["efSearch"]
        p = load_params(small_params, environ={})
        assert (p.index.M, p.index.efConstruction, p.index.efSearch) == (cfg["M"], cfg["efConstruction"],
                                                                         cfg["efSearch"])
        assert p.tune.space == load_params(small_params, environ={}).tune.space
    else:  # faiss choice without an index factory key: refused, file unchanged
        assert rc == 2 and small_params.read_text() == before
    capsys.readouterr()
    # joining with another space is refused before any trial
    rc = cli_main(argv[:-2] + ["--space", "M=8,12"])
    assert rc == 2 and "was created with M" in capsys.readouterr().err
    assert len(optuna.load_study(study_name="t", storage=f"sqlite:///{db}").trials) == 10


def test_apply_writes_index_section_and_keeps_comments(tmp_path, small_params):
    text = small_params.read_text()
    assert text.startswith("# mgw parameters")
    changes = apply_config({"backend": "hnswlib", "M": 16, "efConstruction": 80, "efSearch": 24}, small_params)
    assert changes["index.M"] == (32, 16)
    new = small_params.read_text()
    assert new.startswith("# mgw parameters")  # comments survive
    p = load_params(small_params, environ={})
    assert (p.index.backend, p.index.M, p.index.efConstruction, p.index.efSearch) == ("hnswlib", 16, 80, 24)
    old_lines = [ln for ln in text.splitlines() if not ln.startswith(("  M:", "  efConstruction:", "  efSearch:"))]
    new_lines = [ln for ln in new.splitlines() if not ln.startswith(("  M:", "  efConstruction:", "  efSearch:"))]
    assert old_lines == new_lines  # nothing else changed


def test_apply_faiss_needs_factory_key_or_refuses(tmp_path, small_params):
    from mgw.config import IndexParams

    before = small_params.read_text()
    cfg = {"backend": "faiss-hnsw-sq8", "M": 16, "efConstruction": 80, "efSearch": 24}
    if not any(f in IndexParams.model_fields for f in ("factory", "faiss_factory", "index_factory")):
        with pytest.raises(NotSupportedError, match="HNSW16,SQ8"):
            apply_config(cfg, small_params)
        assert small_params.read_text() == before
    else:
        apply_config(cfg, small_params)
        assert "HNSW16,SQ8" in small_params.read_text()

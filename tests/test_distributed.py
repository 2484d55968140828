"""The Ray paths on a local Ray instance (2 CPUs, no dashboard; one for the whole test session, `ray_local` in
conftest.py): results identical to the single-process path, and the overhead measurement."""
from __future__ import annotations

import numpy as np
import pytest

from mgw.config import load_params

import ray  # noqa: E402, F401  (a declared dependency: a missing Ray fails, never skips)


@pytest.fixture(scope="module")
def params():
    return load_params(overrides={"ray": {"address": None, "num_cpus": 2, "overhead_texts": 16,
                                          "overhead_repeats": 1, "bench_dataset": "synth-1k",
                                          "embed_batch_size": 8}}, environ={})


@pytest.fixture(scope="module")
def ray_session(ray_local):
    return ray_local  # the session-wide local instance (tests/conftest.py)


def test_session_is_local_with_two_cpus(ray_session):
    assert ray_session["started"] and ray_session["resources"]["CPU"] == 2


def test_ray_data_embedding_equals_single_process(ray_session, params):
    from mgw.distributed import embed
    from mgw.distributed.overhead import catalog_texts, single_embed

    texts = catalog_texts(params, 24)
    a = single_embed(texts, params.embed)
    b = embed.embed_texts(texts, params.embed, actors=2, batch_size=8)  # 3 batches over 2 actors, reordered
    assert b.shape == a.shape == (24, 384)
    assert np.allclose(a, b, atol=1e-5)
    assert embed.embed_texts([], params.embed).shape == (0, 384)


def test_bench_cells_as_ray_tasks_equal_single_process_rows(ray_session, params):
    from mgw.bench.datasets import load_dataset
    from mgw.bench.runner import default_configs
    from mgw.distributed import bench

    ds = load_dataset("synth-2k", embeddings=None, queries=50, seed=params.seed)
    configs = default_configs(["hnswlib", "annoy", "exact"], len(ds.train), "tiny")
    a = bench.run_cells(ds, configs, ray_tasks=False)
    b = bench.run_cells(ds, configs, ray_tasks=True)
    assert len(a) == len(b) == 7
    assert [bench.deterministic(r) for r in a] == [bench.deterministic(r) for r in b]
    assert {"recall", "config", "query_params", "serialized_bytes"} <= set(bench.deterministic(a[0]))


def test_overhead_measurement(ray_session, params):
    from mgw.distributed.overhead import measure_overhead

    out = measure_overhead(params)
    assert set(out["ratio"]) == {"embed", "bench"} and all(v > 0 for v in out["ratio"].values())
    assert out["embed"]["identical"] and out["bench"]["identical"]
    assert out["session_start_s"] == 0.0  # the test session's instance was reused, not restarted
    assert out["embed"]["texts"] == 16 and out["bench"]["rows"] > 0

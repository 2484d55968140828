"""Shared fixtures. Real-data tests use `real_data_dir`: skipped outside CI when the data is absent,
a hard failure in CI (CI=true), where the shared data must be present."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from mgw.config import data_dir

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hypothesis budgets. Suites without their own max_examples (the bad-input fuzzers) take it from the profile:
# "ci" (CI=true) and "dev" (default) are bounded so the test command stays fast; "long" is the local soak run:
#   HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz_ingest.py tests/test_fuzz_index.py
# "ci" is derandomized so a CI failure reproduces; the others explore new examples on every run.
_FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=100, derandomize=True, **_FUZZ)
settings.register_profile("dev", max_examples=100, **_FUZZ)
settings.register_profile("long", max_examples=2000, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    d = data_dir()
    if not (d / "catalogs" / "netflix_titles.csv").exists():
        msg = (f"real data not found under {d} (set MGW_DATA_DIR to the folder holding catalogs/ and "
               f"movielens/, see README 'Data')")
        if IN_CI:
            pytest.fail("CI=true but " + msg)
        pytest.skip(msg)
    return d


@pytest.fixture(autouse=True)
def _pin_threads(monkeypatch):
    """Tests run with the same thread budget as CI (2 cores)."""
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))


# The real catalog the resolver tests see: every listing a hand-checked pair (tests/data/resolve_pairs.csv) or a
# failure case (tests/data/resolve_cases.json) names, plus this many more per platform, seeded — about 3,000 of the
# 22,998 listings. Resolving all of them embeds every synopsis (345 s from an empty cache in CI); that is the DVC
# pipeline's job (resolve stage), not the tests'.
REAL_SUBSET_PER_PLATFORM = 300


@pytest.fixture(scope="session")
def real_resolution(real_data_dir):
    """(items, Resolution) of a small real catalog (`REAL_SUBSET_PER_PLATFORM`) through mgw's own ingest and
    resolver (default engine, fitted on the train split of the hand-checked pairs), built once per session."""
    import json

    from mgw.config import ROOT, load_params
    from mgw.data import ingest, resolve
    from mgw.data.resolve import labels
    from mgw.data.subset import stratified_subset

    params = load_params(overrides={"data": {"source": "real", "dir": str(real_data_dir)}}, environ={})
    items = ingest.ingest(params, show_progress=False).items_frame()
    lab = labels.read_labels(params.resolve.labels)
    cases = json.loads((ROOT / "tests/data/resolve_cases.json").read_text())["pairs"]
    keep = {*lab["a"], *lab["b"], *(p["a"] for p in cases), *(p["b"] for p in cases)}
    items = stratified_subset(items, REAL_SUBSET_PER_PLATFORM, params.seed, keep)
    return items, resolve.resolve(items, params)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance (2 CPUs, no dashboard) for the whole test session, whichever modules use it:
    Ray's start-up (tens of seconds on a loaded 2-core machine) is paid once. Code under test finds it running
    and reuses it (`distributed.session`); it is shut down when the session ends."""
    import ray

    from mgw.config import load_params
    from mgw.distributed import session

    rp = load_params(overrides={"ray": {"address": None, "num_cpus": 2}}, environ={}).ray
    try:
        ctx = session.session(rp)
        info = ctx.__enter__()
    except session.RayUnavailableError as e:  # Ray gives its raylet a fixed time to come up: a saturated machine misses it
        if IN_CI:
            raise
        pytest.skip(f"local Ray could not start on this machine (outside CI): {e}")
    yield info
    ctx.__exit__(None, None, None)
    assert not ray.is_initialized()

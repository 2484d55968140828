"""The real crash test (≥100 SIGKILLs of a writer process) and the concurrency test."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mgw.config import ROOT
from mgw.store.backend import EXACT_SPEC
from mgw.store.crash import batch_ops, run_concurrency_test, state_after


def test_workload_is_deterministic():
    a, b = batch_ops(5, 0, 16, 8), batch_ops(5, 0, 16, 8)
    assert list(a["insert"]) == list(b["insert"]) and all((a["insert"][k] == b["insert"][k]).all() for k in a["insert"])
    s = state_after(6, 0, 16, 8)
    assert "b0-0" not in s and "b0-1" in s and len(s) == 6 * 8 - 8


@pytest.mark.parametrize("backend", [EXACT_SPEC, "hnswlib"])
def test_sigkill_crash(tmp_path, backend):
    runs = 100 if backend == EXACT_SPEC else 25
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "mgw.store.crash", str(tmp_path), "--runs", str(runs),
                          "--backend", backend, "--max-delay", "0.1"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["problems"] == [] and res["failures"] == 0
    assert res["kills"] == runs
    assert res["batches_acknowledged"] > 0
    assert out.returncode == 0


@pytest.mark.parametrize("backend", [EXACT_SPEC, "hnswlib"])
def test_concurrent_readers_see_whole_batches(tmp_path, backend):
    res = run_concurrency_test(tmp_path / "c", readers=3, seconds=1.5, backend=backend, min_commits=12,
                               min_searches=150)
    assert res["errors"] == []
    assert res["commits"] > 10 and res["searches"] > 100
    assert res["torn_reads"] == 0 and res["versions_backwards"] == 0 and res["consistent_after"]

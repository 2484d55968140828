"""Multi-worker tuning for real: a throwaway PostgreSQL cluster on 127.0.0.1 (initdb + pg_ctl in a temp dir,
free port, trust auth), two `mgw tune --storage postgresql://... --study NAME` processes adding trials to one
study at the same time, then a third process that only summarizes the shared study.

Outside CI the test skips when the PostgreSQL server binaries are absent; in CI (CI=true) that is a failure.
initdb refuses to run as root, so as root the cluster is created and run as the `postgres` system user."""
from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from mgw.config import ROOT

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """postgresql://postgres@127.0.0.1:<port>/optuna on a fresh cluster, torn down after the module."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        msg = "PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql"
        if IN_CI:
            pytest.fail("CI=true but " + msg)
        pytest.skip(msg)
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="mgw-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres system user
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and no 'postgres' user exists to own the test cluster")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(cmd):
        return subprocess.run(as_user + cmd, capture_output=True, text=True, timeout=120)

    r = run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    if r.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {r.stderr}")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    r = run([pg_ctl, "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"])
    if r.returncode:
        text = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {r.stderr}\n{text}")
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE optuna")
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    finally:
        run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def _params_file(tmp_path: Path) -> Path:
    from mgw.tune.apply import round_trip_yaml

    y = round_trip_yaml()
    doc = y.load((ROOT / "params.yaml").read_text())
    doc["tune"].update({"queries": 100, "runs": 1, "confirm_runs": 1, "spread_builds": 1, "population": 4,
                        "backends": ["hnswlib", "faiss-hnsw-flat"],
                        "space": {"M": [8, 16], "efConstruction": [40, 80], "efSearch": [10, 32, 64]}})
    path = tmp_path / "params.yaml"
    with path.open("w") as f:
        y.dump(doc, f)
    return path


def test_two_workers_share_one_postgres_study(postgres_url, tmp_path):
    from mgw.tune import harness

    emb = tmp_path / "emb.npy"
    np.save(emb, harness.synthetic_vectors(1200, dim=32, seed=5))
    params = _params_file(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "mgw", "--params", str(params), "tune", "--embeddings", str(emb),
            "--storage", postgres_url, "--study", "two-workers", "--no-progress"]
    workers = [subprocess.Popen(base + ["--trials", "4", "--worker", str(w), "--no-decide"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
               for w in (0, 1)]
    outs = [w.communicate(timeout=240)[0] for w in workers]
    for w, out in zip(workers, outs):
        assert w.returncode == 0, out
    # a third process adds no trials: it summarizes the shared study (both workers' trials)
    r = subprocess.run(base + ["--trials", "0", "--metrics-dir", str(tmp_path)], env=env, capture_output=True,
                       text=True, timeout=240, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads((tmp_path / "tune.json").read_text())
    assert res["n_trials_total"] == 8
    assert sorted({t["worker"] for t in res["trials"]}) == [0, 1]
    assert sum(t["worker"] == 0 for t in res["trials"]) == 4
    assert res["study"]["storage"].startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert res["chosen"] is not None and res["default"]["qps"] > 0

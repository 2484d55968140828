"""The DVC DAG re-runs only what a parameter change affects.

The real dvc.yaml and params.yaml are copied into a scratch DVC project with every stage's command replaced by
one that just writes the stage's outputs, so the test exercises DVC's own change detection over mgw's declared
deps/params/outs in seconds. Then one parameter changes and we check which stages DVC re-runs.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mgw.config import ROOT

# Writes each output with fresh content (a re-run changes its outputs, as a real stage's timings would).
FAKE = ("import sys, pathlib, time\n"
        "stamp = '{\"t\": %d}' % time.time_ns()\n"
        "for o in sys.argv[1:]:\n"
        "    p = pathlib.Path(o)\n"
        "    if p.suffix: p.parent.mkdir(parents=True, exist_ok=True); p.write_text(stamp)\n"
        "    else: p.mkdir(parents=True, exist_ok=True); (p / 'x').write_text(stamp)\n")


def _outs(stage: dict) -> list[str]:
    paths = []
    for key in ("outs", "metrics", "plots"):
        for entry in stage.get(key, []) or []:
            paths.append(next(iter(entry)) if isinstance(entry, dict) else entry)
    return paths


def _dvc(cwd: Path, *args: str) -> str:
    dvc = Path(sys.executable).with_name("dvc")
    res = subprocess.run([str(dvc), *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _rerun(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    if not Path(sys.executable).with_name("dvc").exists():
        pytest.skip("dvc is not installed in this environment")
    work = tmp_path_factory.mktemp("dag")
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    (work / "fake.py").write_text(FAKE)
    for name, stage in pipeline["stages"].items():
        stage["cmd"] = f"python fake.py {' '.join(_outs(stage))}"
        for dep in stage.get("deps", []):
            src, dst = ROOT / dep, work / dep
            if dst.exists() or any(dep == o for s in pipeline["stages"].values() for o in _outs(s)):
                continue
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
            elif src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
    (work / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    shutil.copy(ROOT / "params.yaml", work / "params.yaml")
    _dvc(work, "init", "--no-scm", "-q")
    first = _rerun(_dvc(work, "repro"))
    assert first == set(pipeline["stages"]), set(pipeline["stages"]) - first
    return work


def _change(work: Path, dotted: str, value) -> set[str]:
    params = yaml.safe_load((work / "params.yaml").read_text())
    node = params
    *path, last = dotted.split(".")
    for k in path:
        node = node[k]
    node[last] = value
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return _rerun(_dvc(work, "repro"))


def test_unchanged_pipeline_reruns_nothing(project):
    assert _rerun(_dvc(project, "repro")) == set()


def test_index_param_reruns_only_index_consumers(project):
    rerun = _change(project, "index.efSearch", 64)
    assert {"bench", "report_02", "index"} <= rerun
    assert not rerun & {"ingest", "resolve", "embed", "report_01", "train", "abtest", "cache", "scenarios", "tune"}


def test_cache_param_reruns_only_the_cache(project):
    rerun = _change(project, "cache.semantic_threshold", 0.9)
    assert rerun == {"cache", "report_08", "serve_bench", "report_10", "index"}  # the server runs on the cache


def _downstream(stages: dict, name: str) -> set[str]:
    """Stages that read (transitively) what `name` writes."""
    def under(a: str, b: str) -> bool:
        return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")

    found, frontier = set(), {name}
    while frontier:
        outs = {o for s in frontier for o in _outs(stages[s])}
        frontier = {s for s, st in stages.items() if s not in found | {name}
                    and any(under(d, o) for d in st.get("deps", []) or [] for o in outs)}
        found |= frontier
    return found


def test_resolve_param_reruns_resolve_and_only_what_reads_its_outputs(project):
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    rerun = _change(project, "resolve.engine", "splink")
    assert rerun == {"resolve"} | _downstream(stages, "resolve")
    assert "ingest" not in rerun and {"embed", "report_01"} <= rerun

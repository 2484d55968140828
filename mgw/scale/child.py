"""Run one measurement in a fresh child process (spawn): the parent's memory and earlier stages' garbage never
count, so the peak RSS reported is the stage's own. Threads are pinned in the child before the work starts."""
from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import threading
import time
from typing import Any

from mgw.errors import MgwError


class ChildError(MgwError):
    """A measurement failed or ran out of time in its child process."""


class PeakRss:
    """Samples this process's RSS every `interval` s in a thread: the peak *during* a block, which
    `ru_maxrss` (peak over the whole life of the process, input generation included) cannot give."""

    def __init__(self, interval: float = 0.005):
        import psutil

        self._proc, self.interval = psutil.Process(), interval
        self.start_rss = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> "PeakRss":
        self.start_rss = self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def delta(self) -> int:
        return self.peak - self.start_rss


def _call(target: str, kwargs: dict[str, Any], threads: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    module, name = target.rsplit(":", 1)
    fn = getattr(importlib.import_module(module), name)
    with threadpool_limits(threads):
        return fn(**kwargs)


def _child(target: str, kwargs: dict[str, Any], threads: int, queue: Any) -> None:
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    try:
        out = _call(target, kwargs, threads)
        import resource

        out["ru_maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        queue.put(("ok", out))
    except BaseException as e:  # reported to the parent as a typed error, never a hang
        queue.put(("error", f"{type(e).__name__}: {e}"))


def run_in_process(target: str, kwargs: dict[str, Any], threads: int = 2) -> dict[str, Any]:
    """The same call in this process (`scale.isolate: false`, tests and the notebook's quick run): no spawn and
    re-import per cell, but `peak_rss_bytes` then includes whatever this process already held (the stage's
    `rss_delta_bytes` stays its own). Errors are raised as ChildError, as from a child."""
    t0 = time.perf_counter()
    try:
        out = _call(target, kwargs, threads)
    except Exception as e:  # noqa: BLE001 - one typed error for the caller, as run_in_child gives
        raise ChildError(f"{target} failed in process: {type(e).__name__}: {e}") from e
    out["child_wall_s"] = time.perf_counter() - t0
    return out


def run_in_child(target: str, kwargs: dict[str, Any], threads: int = 2, timeout_s: float = 1800.0) -> dict[str, Any]:
    """`module:function(**kwargs)` in a spawned process; its dict result plus the child's wall time."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, kwargs, threads, queue), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    try:
        status, payload = queue.get(timeout=timeout_s)
    except Exception as e:  # queue.Empty: out of time
        proc.kill()
        proc.join()
        raise ChildError(f"{target}({kwargs}) gave no result within {timeout_s:.0f} s") from e
    proc.join(timeout=30)
    if proc.is_alive():
        proc.kill()
    if status != "ok":
        raise ChildError(f"{target} failed in its child process: {payload}")
    payload["child_wall_s"] = time.perf_counter() - t0
    return payload

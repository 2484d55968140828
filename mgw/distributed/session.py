"""A Ray session from `ray:` params. `address` unset → a local instance with `num_cpus` (no dashboard);
set → join that cluster (`auto` on a node of it, `ray://head:10001` from outside). A session this code did
not start (a notebook's, a test fixture's) is reused and left running."""
from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from mgw.errors import MgwError


class RayUnavailableError(MgwError):
    """Ray is not installed or the cluster at `ray.address` cannot be reached."""


def _ray():
    try:
        import ray
    except ImportError as e:  # pragma: no cover - ray is a dependency
        raise RayUnavailableError("Ray is not installed (pip install 'ray[data]')") from e
    return ray


def init(ray_params: Any, attempts: int = 3) -> dict[str, Any]:
    """Start or join Ray unless it is already up; returns what was done and how long it took. A local start is
    retried: Ray gives its raylet a fixed 30 s to register, which a heavily loaded 2-core machine can miss."""
    ray = _ray()
    if ray.is_initialized():
        return {"started": False, "seconds": 0.0, "address": ray_params.address}
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
                          "configure_logging": True}
    if ray_params.address:
        kw["address"] = ray_params.address
    else:
        kw["num_cpus"] = ray_params.num_cpus or os.cpu_count()
        # the raylet waits this long for its agents to register; a loaded 2-core machine needs more than 30 s.
        # Its wait for the dashboard agent's port file is a fixed 15 s (ray-project/ray#65983): the retries below
        # are all there is for that one.
        os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
    t0 = time.perf_counter()
    for attempt in range(1, attempts + 1):
        try:
            ray.init(**kw)
            break
        except Exception as e:  # noqa: BLE001 - Ray raises a bare Exception when its raylet starts too slowly
            with contextlib.suppress(Exception):
                ray.shutdown()
            if attempt == attempts:
                raise RayUnavailableError(f"cannot start or reach Ray (address={ray_params.address!r}) after "
                                          f"{attempts} attempts: {e}") from e
    with contextlib.suppress(Exception):
        ray.data.DataContext.get_current().enable_progress_bars = False
    return {"started": True, "seconds": time.perf_counter() - t0, "address": ray_params.address}


@contextlib.contextmanager
def session(ray_params: Any) -> Iterator[dict[str, Any]]:
    """`with session(params.ray) as info:` Ray is up inside; shut down after only if this call started it."""
    ray = _ray()
    info = init(ray_params)
    try:
        yield {**info, "resources": ray.cluster_resources()}
    finally:
        if info["started"]:
            ray.shutdown()

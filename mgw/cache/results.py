"""`reports/metrics/cache.json` = the simulator's summary + the latency benchmark. Each command writes its
part under `reports/cache/` and rebuilds the metrics file from whatever parts exist."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mgw.config import ROOT
from mgw.reporting import write_json_atomic, write_metrics

PARTS_DIR = ROOT / "reports" / "cache"


def save_part(name: str, payload: dict[str, Any], parts_dir: str | Path = PARTS_DIR) -> Path:
    return write_json_atomic(Path(parts_dir) / f"{name}.json", payload)


def summary(sim: dict[str, Any] | None) -> dict[str, Any] | None:
    if sim is None:
        return None
    return {"target": sim["target"], "seed_config": sim["seed_config"], "target_holds": sim["target_holds"],
            "workloads": {name: {"params": w["params"], "distinct_keys": w["distinct_keys"],
                                 "seed_config_hit_rate": w["seed_config_hit_rate"],
                                 "min_size_for_target": w["min_size_for_target"]}
                          for name, w in sim["workloads"].items()}}


def write_cache_metrics(seed: int, threads: int = 1, parts_dir: str | Path = PARTS_DIR,
                        metrics_dir: str | Path | None = None) -> Path:
    parts = {}
    for name in ("simulation", "latency"):
        p = Path(parts_dir) / f"{name}.json"
        parts[name] = json.loads(p.read_text()) if p.exists() else None
    payload = {"hit_rate": summary(parts["simulation"]), "latency": parts["latency"],
               "curves_csv": str(Path(parts_dir) / "hit_ratio.csv")}
    return write_metrics("cache", payload, seed=seed, threads=threads, metrics_dir=metrics_dir)

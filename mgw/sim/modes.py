"""Deployment modes (seed §1.2) as the simulation uses them.

The presets live in `mgw.config.MODE_PRESETS` / `mode_params()`; this module only maps a validated preset
onto simulation settings: which repair policy runs (selfHealing off → 'none', on → MPC with the preset's
prediction horizon), how many replicas serve (replication), and the cache strategy the pipeline would use.
"""
from __future__ import annotations

from typing import Any

from mgw.config import MODE_PRESETS, ModeParams, mode_params
from mgw.sim.chaos import DAY, HOUR, ChaosConfig, FailureSpec
from mgw.sim.graph import HnswConfig


def modes() -> list[str]:
    return list(MODE_PRESETS)


def deployment(mode: str) -> ModeParams:
    """Validated preset; InvalidConfigError for an unknown name."""
    return mode_params(mode)


def repair_policy(mode: str | ModeParams) -> tuple[str, dict[str, Any]]:
    """(policy name, policy kwargs) of a mode: no self-healing → 'none'; else MPC with its horizon."""
    p = deployment(mode) if isinstance(mode, str) else mode
    if not p.selfHealing:
        return "none", {}
    return "mpc", {"horizon": int(p.predictionHorizon or 10)}


def chaos_config(params: dict[str, Any], seed: int = 42, mode: str | None = None) -> ChaosConfig:
    """ChaosConfig from a scenario's params (seed §1.4.3 field names; intervals in ms like the seed).
    With `mode`, the replication of that deployment preset replaces the scenario's."""
    failures = {}
    for kind, spec in (params.get("failures") or {}).items():
        failures[kind] = FailureSpec(float(spec["probability"]), float(spec["interval"]) / 1000.0)
    hnsw = params.get("hnsw") or {}
    slo = params.get("slo") or {}
    kw: dict[str, Any] = dict(
        duration_s=float(params.get("duration", 30 * DAY * 1000)) / 1000.0,
        catalog_size=int(params.get("catalogSize", 1000)),
        dim=int(params.get("dim", 384)),
        probes=int(params.get("probes", 200)),
        replication=int(params.get("replication", 3)),
        hnsw=HnswConfig(M=int(hnsw.get("M", 8)), efConstruction=int(hnsw.get("efConstruction", 40)),
                        efSearch=int(hnsw.get("efSearch", 14))),
        update_interval_s=float(params.get("updateFrequency", DAY * 1000)) / 1000.0,
        daily_churn=float(params.get("dailyChurn", 0.02)),
        fragmentation_churn=float(params.get("fragmentationChurn", 0.15)),
        intensity=float(params.get("intensity", 1.0)),
        partition_mean_s=float(params.get("partitionMeanMs", 1_800_000)) / 1000.0,
        recall_target=float(slo.get("recallAt10", 0.95)),
        p99_ms=float(slo.get("p99Ms", 5.0)),
        utilization=float(params.get("utilization", 0.45)),
        check_interval_s=float(params.get("checkIntervalMs", 10_000)) / 1000.0,
        manual_recovery_s=float(params.get("manualRecoveryMs", 4 * HOUR * 1000)) / 1000.0,
        seed=seed,
    )
    if failures:
        kw["failures"] = failures
    if mode is not None:
        kw["replication"] = int(deployment(mode).replication or kw["replication"])
    return ChaosConfig(**kw)

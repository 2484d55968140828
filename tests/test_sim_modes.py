"""Deployment modes (seed §1.2): each preset validated and mapped onto the simulation."""
import pytest

from mgw.config import InvalidConfigError, load_params
from mgw.sim.modes import chaos_config, deployment, modes, repair_policy


def test_development_mode():
    p = deployment("development")
    assert p.mockData is True and p.cachingStrategy == "aggressive" and p.logging == "verbose"
    assert repair_policy("development") == ("none", {})


def test_staging_mode():
    p = deployment("staging")
    assert p.mockData is False and p.cachingStrategy == "balanced" and p.selfHealing is True
    assert repair_policy(p) == ("mpc", {"horizon": 10})


def test_production_mode():
    p = deployment("production")
    assert (p.replication, p.backupIntervalMs, p.backupRetention) == (3, 3_600_000, 168)
    assert p.logging == "errors-only" and p.cachingStrategy == "optimal"
    assert chaos_config({}, mode="production").replication == 3


def test_every_mode_loads_through_params(tmp_path):
    for m in modes():
        assert load_params(overrides={"mode": m}).deployment == deployment(m)


def test_unknown_mode_and_bad_override_fail():
    with pytest.raises(InvalidConfigError):
        deployment("chaos-monkey")
    with pytest.raises(InvalidConfigError):
        load_params(overrides={"mode": "production", "deployment": {"replication": 0}})

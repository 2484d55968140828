"""The Optuna study: search space, objectives (recall@k ↑, measured QPS ↑, optionally bytes/vector ↓),
the recall constraint, seeded samplers, and a build cache so one (backend, M, efConstruction) build
serves every efSearch trial that lands on it."""
from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from mgw.errors import MgwError
from mgw.tune import harness

log = logging.getLogger(__name__)

# Seed §1.1.1 RuVector configuration: measured in every run as the reference point.
SEED_DEFAULT: dict[str, Any] = {"backend": "hnswlib", "M": 32, "efConstruction": 200, "efSearch": 100}
PARAM_NAMES = ("M", "efConstruction", "efSearch")
SAMPLERS = ("nsga2", "tpe")
CONSTRAINT = "recall_shortfall"  # recall_target - recall@k; feasible when ≤ 0


class TuneConfigError(MgwError, ValueError):
    """A tuning setup that cannot run: unknown backend or parameter, empty or invalid search space."""


@dataclass(frozen=True)
class SearchSpace:
    """Categorical choices per parameter. Discrete M/efConstruction values are what make build reuse work."""

    backends: tuple[str, ...]
    values: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def create(cls, backends: list[str], space: dict[str, list[int]]) -> "SearchSpace":
        problems = []
        if not backends:
            problems.append("no backends given")
        unknown = [b for b in backends if b not in harness.BACKENDS]
        if unknown:
            problems.append(f"unknown backend(s) {unknown} (known: {', '.join(harness.BACKENDS)})")
        bad_keys = [k for k in space if k not in PARAM_NAMES]
        if bad_keys:
            problems.append(f"unknown parameter(s) {bad_keys} (tunable: {', '.join(PARAM_NAMES)})")
        for name in PARAM_NAMES:
            vals = space.get(name)
            if not vals:
                problems.append(f"{name}: empty search space (give at least one value)")
            elif any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in vals):
                problems.append(f"{name}: values must be positive integers, got {list(vals)}")
        if space.get("M") and any(v < 2 for v in space["M"]):
            problems.append("M: values must be >= 2")
        if problems:
            raise TuneConfigError("invalid tuning search space: " + "; ".join(problems))
        return cls(tuple(dict.fromkeys(backends)),
                   {n: tuple(sorted(set(space[n]))) for n in PARAM_NAMES})

    def suggest(self, trial) -> dict[str, Any]:
        cfg: dict[str, Any] = {"backend": trial.suggest_categorical("backend", list(self.backends))}
        for name in PARAM_NAMES:
            cfg[name] = trial.suggest_categorical(name, list(self.values[name]))
        return cfg

    def contains(self, cfg: dict[str, Any]) -> bool:
        return cfg["backend"] in self.backends and all(cfg[n] in self.values[n] for n in PARAM_NAMES)

    def describe(self) -> dict[str, Any]:
        return {"backend": list(self.backends), **{n: list(v) for n, v in self.values.items()}}


class BuildCache:
    """LRU of built indexes keyed by (backend, M, efConstruction): efSearch is a query-time knob."""

    def __init__(self, data: harness.TuneData, threads: int, max_builds: int = 8, seed: int = 100):
        self.data, self.threads, self.max_builds, self.seed = data, threads, max_builds, seed
        self._builds: OrderedDict[tuple, tuple[Any, float]] = OrderedDict()
        self._bytes: dict[tuple, int | None] = {}
        self.hits = self.misses = 0

    def get(self, backend: str, M: int, efConstruction: int) -> tuple[Any, float, bool]:
        """(index, build seconds, cache hit?)."""
        key = (backend, M, efConstruction)
        if key in self._builds:
            self.hits += 1
            self._builds.move_to_end(key)
            index, build_s = self._builds[key]
            return index, build_s, True
        self.misses += 1
        index, build_s = harness.build(backend, M, efConstruction, self.data, self.threads, seed=self.seed)
        self._builds[key] = (index, build_s)
        self._bytes[key] = index_bytes(index)
        while len(self._builds) > self.max_builds:
            self._builds.popitem(last=False)
        return index, build_s, False

    def nbytes(self, backend: str, M: int, efConstruction: int) -> int | None:
        """Serialized size of that build (measured once, when it was built)."""
        return self._bytes.get((backend, M, efConstruction))

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "builds": self.misses, "cached_now": len(self._builds)}


def index_bytes(index) -> int | None:
    try:
        return int(index.stats()["serialized_bytes"])
    except Exception:  # noqa: BLE001 - size is optional evidence, never a reason to fail a trial
        return None


class Objective:
    """Callable for `study.optimize`: suggest, fetch the cached build, measure, return objective values.

    Trials whose first measurement is far below the recall target are timed once instead of best-of-N
    (they cannot be chosen, and their rough QPS still shows on the front); exact repeats of a finished
    configuration reuse its numbers instead of re-measuring."""

    def __init__(self, data: harness.TuneData, space: SearchSpace, cache: BuildCache, *, recall_target: float,
                 runs: int, threads: int, memory: bool = False, skip_margin: float = 0.05, worker: int = 0):
        self.data, self.space, self.cache, self.worker = data, space, cache, worker
        self.recall_target, self.runs, self.threads = recall_target, runs, threads
        self.memory, self.skip_margin = memory, skip_margin

    def directions(self) -> list[str]:
        return ["maximize", "maximize"] + (["minimize"] if self.memory else [])

    def __call__(self, trial) -> tuple[float, ...]:
        cfg = self.space.suggest(trial)
        trial.set_user_attr("worker", self.worker)
        repeat = _finished_repeat(trial, cfg)
        if repeat is not None:
            for key in ("recall", "qps", "bytes_per_vector", "constraint", "build_s"):
                if key in repeat.user_attrs:
                    trial.set_user_attr(key, repeat.user_attrs[key])
            trial.set_user_attr("repeat_of", repeat.number)
            trial.set_constraint(CONSTRAINT, repeat.user_attrs.get("constraint", 1.0))
            return tuple(repeat.values)
        index, build_s, hit = self.cache.get(cfg["backend"], cfg["M"], cfg["efConstruction"])
        first = harness.measure(index, self.data, cfg["efSearch"], runs=1, threads=self.threads)
        if first["recall"] >= self.recall_target - self.skip_margin and self.runs > 1:
            result = harness.measure(index, self.data, cfg["efSearch"], runs=self.runs, threads=self.threads)
        else:
            result = first
        nbytes = self.cache.nbytes(cfg["backend"], cfg["M"], cfg["efConstruction"])
        bpv = nbytes / len(self.data.base) if nbytes else None
        for key, value in (("recall", result["recall"]), ("qps", result["qps"]), ("timed_runs", result["runs"]),
                           ("build_s", build_s), ("cache_hit", hit), ("bytes_per_vector", bpv),
                           ("constraint", self.recall_target - result["recall"])):
            trial.set_user_attr(key, value)
        # Feasible when ≤ 0. Optuna 5 replaced samplers' constraints_func with Trial.set_constraint.
        trial.set_constraint(CONSTRAINT, self.recall_target - result["recall"])
        values = (result["recall"], result["qps"])
        return values + ((bpv if bpv is not None else float("nan"),) if self.memory else ())


def _finished_repeat(trial, cfg: dict[str, Any]):
    import optuna

    for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if t.params == cfg and t.values is not None:
            return t
    return None


def make_sampler(name: str, seed: int, population: int):
    import optuna

    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if name == "tpe":
        with warnings.catch_warnings():  # multivariate TPE is "experimental" but models M × efSearch jointly
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=min(10, population))
    raise TuneConfigError(f"unknown sampler {name!r} (known: {', '.join(SAMPLERS)})")


def open_study(storage, name: str, directions: list[str], sampler, space: SearchSpace):
    """Create the study or join an existing one; refuse to join one with other objectives or choices."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                                load_if_exists=True)
    have = [d.name.lower() for d in study.directions]
    if have != directions:
        raise TuneConfigError(f"study {name!r} already exists with objectives {have}; this run wants "
                              f"{directions} (memory objective on/off?): use another --study name")
    _check_space_compatible(study, space)
    if not study.metric_names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(["recall", "qps"] + (["bytes_per_vector"] if len(directions) == 3 else []))
    return study


def _check_space_compatible(study, space: SearchSpace) -> None:
    """Optuna cannot change a categorical parameter's choices inside one study: say so before any trial."""
    wanted = {"backend": list(space.backends), **{n: list(v) for n, v in space.values.items()}}
    for t in study.get_trials(deepcopy=False):
        for name, dist in t.distributions.items():
            choices = list(getattr(dist, "choices", []))
            if name in wanted and choices != wanted[name]:
                raise TuneConfigError(f"study {study.study_name!r} was created with {name} in {choices}; this "
                                      f"run asks for {wanted[name]}: use the same space or another --study name")
        if t.distributions:
            break

"""Versioned reranker weights (seed §2.3.3): `models/reranker/<semver>/` plus `aliases.json`.

A version directory holds weights.safetensors (model state dict), cache.safetensors (precomputed item and
user states), items.json, users.json, config.json, metrics.json, lineage.json (parent, data hash, params
hash, git commit, time), history.json (training curve) and checksums.json (sha256 of every other file).
Loading verifies every checksum and reads tensors with safetensors only (no pickle).

Version bump rules (`next_version`): a different architecture (class, dims, heads, layers) → major,
because old weights no longer load; different training data or parameters → minor; same architecture,
data and params (a re-run, a code fix) → patch. The first version is 1.0.0.
Aliases (`production`, `candidate`) keep a stack, so `rollback` returns to the previous version.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mgw.errors import CorruptFileError, DataError, UnknownIdError
from mgw.reporting import write_json_atomic
from mgw.reporting import sha256_file

SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
ALIASES = ("production", "candidate")
ARCH_KEYS = ("class", "input_dim", "hidden_dim", "heads", "layers", "conv")
JSON_FILES = ("items", "users", "config", "metrics", "lineage", "history")


def parse_semver(v: str) -> tuple[int, int, int]:
    m = SEMVER.match(v)
    if not m:
        raise DataError(f"{v!r} is not a semantic version (MAJOR.MINOR.PATCH)")
    return tuple(int(x) for x in m.groups())  # type: ignore[return-value]


def next_version(parent: dict | None, config: dict, data_hash: str, params_hash: str) -> str:
    """Apply the bump rules against the parent's config and lineage (None → 1.0.0)."""
    if parent is None:
        return "1.0.0"
    major, minor, patch = parse_semver(parent["version"])
    if any(parent["config"].get(k) != config.get(k) for k in ARCH_KEYS):
        return f"{major + 1}.0.0"
    lin = parent["lineage"]
    if lin.get("data_hash") != data_hash or lin.get("params_hash") != params_hash:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"




def read_json_file(path: Path, what: str):
    """JSON from `path`, or CorruptFileError naming the file (never a bare JSONDecodeError)."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptFileError(f"{path} ({what}) is not readable JSON: {e}") from None


class Registry:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ------------------------------------------------------------------ reading
    def versions(self) -> list[str]:
        if not self.root.exists():
            return []
        vs = [p.name for p in self.root.iterdir() if p.is_dir() and SEMVER.match(p.name)]
        return sorted(vs, key=parse_semver)

    def _aliases(self) -> dict:
        path = self.root / "aliases.json"
        if not path.exists():
            return {"stacks": {}, "log": []}
        state = read_json_file(path, "the alias file")
        stacks = state.get("stacks") if isinstance(state, dict) else None
        if (not isinstance(stacks, dict) or not isinstance(state.get("log", []), list)
                or not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in stacks.values())):
            raise CorruptFileError(f"{path}: expected {{'stacks': {{alias: [versions]}}, 'log': [...]}}")
        state.setdefault("log", [])
        return state

    def aliases(self) -> dict[str, str]:
        return {a: s[-1] for a, s in self._aliases()["stacks"].items() if s}

    def resolve(self, ref: str) -> str:
        """An alias or a version → a version present in the registry."""
        ref = ref.removeprefix("reranker@")
        aliases = self.aliases()
        if ref in aliases:
            ref = aliases[ref]
        elif ref in ALIASES:
            raise UnknownIdError(f"no reranker is marked {ref!r} in {self.root} (train one: mgw train)")
        else:
            parse_semver(ref)
        if ref not in self.versions():
            raise UnknownIdError(f"reranker version {ref} not in {self.root} (have: {', '.join(self.versions()) or 'none'})")
        return ref

    def verify(self, version: str) -> Path:
        d = self.root / version
        sums_path = d / "checksums.json"
        if not sums_path.exists():
            raise CorruptFileError(f"{sums_path} is missing; version {version} is incomplete")
        sums = read_json_file(sums_path, f"reranker {version} checksums")
        if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
            raise CorruptFileError(f"{sums_path}: expected {{file name: sha256}}")
        for name, digest in sums.items():
            if Path(name).name != name or name in ("", ".", ".."):
                raise CorruptFileError(f"{sums_path}: {name!r} is not a file name in the version directory")
            p = d / name
            if not p.exists():
                raise CorruptFileError(f"reranker {version}: file {name} is missing")
            if sha256_file(p) != digest:
                raise CorruptFileError(f"reranker {version}: checksum of {name} does not match checksums.json")
        expected = {"weights.safetensors", "cache.safetensors", *(f"{n}.json" for n in JSON_FILES)}
        if missing := expected - set(sums):
            raise CorruptFileError(f"reranker {version}: checksums.json lacks {sorted(missing)}")
        return d

    def show(self, ref: str) -> dict:
        version = self.resolve(ref)
        d = self.root / version
        out = {"version": version, "aliases": [a for a, v in self.aliases().items() if v == version]}
        for name in ("config", "metrics", "lineage"):
            p = d / f"{name}.json"
            out[name] = json.loads(p.read_text()) if p.exists() else None
        return out

    def list(self) -> list[dict]:
        aliases = self.aliases()
        rows = []
        for v in self.versions():
            info = self.show(v)
            m = info["metrics"] or {}
            rows.append({"version": v, "aliases": ",".join(a for a, x in aliases.items() if x == v),
                         "created": (info["lineage"] or {}).get("time"),
                         "parent": (info["lineage"] or {}).get("parent"),
                         "interactions": (info["lineage"] or {}).get("interactions"),
                         "ndcg@10": m.get("ndcg@10"), "recallAt10": m.get("recallAt10")})
        return rows

    def load(self, ref: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict]:
        """(state dict, node cache tensors, json parts) after verifying checksums."""
        version = self.resolve(ref)
        d = self.verify(version)
        try:
            state = load_file(d / "weights.safetensors")
            cache = load_file(d / "cache.safetensors")
        except Exception as e:  # safetensors raises its own error types for bad headers
            raise CorruptFileError(f"reranker {version}: cannot read tensors: {e}") from None
        parts = {n: json.loads((d / f"{n}.json").read_text()) for n in JSON_FILES}
        parts["version"] = version
        return state, cache, parts

    # ------------------------------------------------------------------ writing
    def save(self, state: dict[str, torch.Tensor], cache: dict[str, torch.Tensor], *, items: list[str],
             users: list[str], config: dict, metrics: dict, lineage: dict, history: list) -> str:
        """Write a new version (bump rules against the newest version), atomically via a temp directory."""
        parent_v = self.versions()[-1] if self.versions() else None
        parent = None
        if parent_v:
            pd_ = self.root / parent_v
            parent = {"version": parent_v, "config": json.loads((pd_ / "config.json").read_text()),
                      "lineage": json.loads((pd_ / "lineage.json").read_text())}
        version = next_version(parent, config, lineage["data_hash"], lineage["params_hash"])
        lineage = {**lineage, "version": version, "parent": parent_v,
                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{version}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, tmp / "weights.safetensors")
        save_file({k: v.detach().contiguous().cpu() for k, v in cache.items()}, tmp / "cache.safetensors")
        for name, obj in (("items", items), ("users", users), ("config", config), ("metrics", metrics),
                          ("lineage", lineage), ("history", history)):
            write_json_atomic(tmp / f"{name}.json", obj)
        sums = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
        write_json_atomic(tmp / "checksums.json", sums)
        tmp.rename(self.root / version)
        return version

    def promote(self, ref: str, alias: str = "production") -> str:
        if alias not in ALIASES:
            raise DataError(f"unknown alias {alias!r} (use {' or '.join(ALIASES)})")
        version = self.resolve(ref)
        self.verify(version)
        state = self._aliases()
        stack = state["stacks"].setdefault(alias, [])
        if stack and stack[-1] == version:
            return version
        stack.append(version)
        state["log"].append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "action": "promote",
                             "alias": alias, "version": version})
        write_json_atomic(self.root / "aliases.json", state)
        return version

    def rollback(self, alias: str = "production") -> str:
        """Point the alias back at the version it held before the last promotion."""
        state = self._aliases()
        stack = state["stacks"].get(alias, [])
        if len(stack) < 2:
            raise DataError(f"alias {alias!r} has no earlier version to roll back to "
                            f"(history: {stack or 'empty'})")
        old = stack.pop()
        state["log"].append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "action": "rollback",
                             "alias": alias, "from": old, "version": stack[-1]})
        write_json_atomic(self.root / "aliases.json", state)
        return stack[-1]


# --------------------------------------------------------------------------- served models in and out
def _root(params=None, registry_dir=None) -> Path:
    from mgw.config import ROOT

    p = Path(registry_dir or (params.gnn.registry_dir if params else "models/reranker"))
    return p if p.is_absolute() else ROOT / p


def load_reranker(ref: str = "production", params=None, registry_dir: str | Path | None = None):
    """A served reranker (mgw.rerank.inference.Reranker) from the registry; UnknownIdError if the alias or
    version does not exist, CorruptFileError if its files fail their checksums."""
    import numpy as np

    from mgw.rerank.features import UserContext, space_from_arrays
    from mgw.rerank.inference import NodeCache, Reranker
    from mgw.rerank.model import GATReranker

    state, cache, parts = Registry(_root(params, registry_dir)).load(ref)
    cfg = parts["config"]
    if "n_features" not in cfg:
        raise CorruptFileError(f"reranker {parts['version']} predates the feature-based GAT (issue 14); "
                               f"retrain with `mgw train`")
    # The id-embedding table of training users is not stored (privacy: a forgotten user's row must go); each
    # served user's embedding is its row of cache `user_e`, a per-user tensor like every other.
    model = GATReranker(cfg["input_dim"], cfg["hidden_dim"], cfg["heads"], cfg["dropout"], 0, cfg["n_items"],
                        cfg["n_features"])
    model.load_state_dict(state)
    users = parts["users"]
    a = {k[3:]: v.numpy() for k, v in cache.items() if k.startswith("fs_")}
    item_x = cache["item_x"].numpy()
    space = space_from_arrays(a, item_x, users, cache["als_user_f"].numpy())
    pos = cache["user_pos"].numpy()  # [U, L] positive history item rows, −1 padded
    pref, last, n = cache["user_pref"].numpy(), cache["user_last"].numpy(), cache["user_n"].numpy()
    ctxs = [UserContext(u, pref[k], pos[k][pos[k] >= 0].astype(np.int64), float(last[k]), int(n[k]))
            for k, u in enumerate(users)]
    rr = Reranker(model, parts["items"], NodeCache(cache["item_x"], cache["item_h1"], cache["item_h"]), users,
                  cache["user_h"], cache["user_e"], space, ctxs, version=parts["version"])
    rr.lineage = parts["lineage"]
    return rr


def register_model(exp, run, tasks: dict, head: dict, params, registry_dir=None):
    """Save the chosen GAT with everything serving needs (node states, id embeddings, the test-time feature
    space and user contexts), promote it to `candidate` (and `production` when none exists).
    Returns (served Reranker, version, registry)."""
    import numpy as np

    from mgw.provenance import git_commit
    from mgw.rerank.dataset import preference_vectors
    from mgw.rerank.evaluate import params_hash
    from mgw.rerank.features import UserContext, space_arrays
    from mgw.rerank.inference import Reranker, user_states

    data, model, cache = exp.data, run.model, run.cache
    hist = data.histories(("train", "val"))
    users = [u for u in sorted(hist) if np.any(hist[u].weights > 0)]
    hs = [hist[u] for u in users]
    pref = preference_vectors(data.items.embeddings, hs)
    user_h = user_states(model, cache, hs, pref)
    rows = run.record["user_rows"]
    with torch.no_grad():
        user_e = model.user_embedding(torch.tensor([rows.get(u, -1) for u in users], dtype=torch.long))
    space = exp.test.space  # fitted on train + val: the state at the test cut
    cf = space.cf
    als_rows = np.array([cf.als_user.get(u, -1) for u in users])
    als_user_f = np.where(als_rows[:, None] >= 0, cf.als_user_f[np.maximum(als_rows, 0)], 0).astype(np.float32)
    pos = [h.positive_items for h in hs]
    padded = np.full((len(pos), max((len(p) for p in pos), default=0)), -1, np.int32)
    for k, p in enumerate(pos):
        padded[k, :len(p)] = p
    t = lambda x: torch.from_numpy(np.ascontiguousarray(x))  # noqa: E731
    # Every per-user tensor has first dimension len(users) and a `user` name part (registry convention).
    tensors = {"item_x": cache.item_x, "item_h1": cache.item_h1, "item_h": cache.item_h, "user_h": user_h,
               "user_e": user_e, "user_pref": t(pref), "user_pos": t(padded),
               "user_last": t(np.array([h.last_time for h in hs], np.float64)),
               "user_n": t(np.array([len(h.items) for h in hs], np.int64)), "als_user_f": t(als_user_f),
               **{f"fs_{k}": t(v) for k, v in space_arrays(space).items()}}
    rec = tasks["recommend"]["rankers"]["gat"]
    metrics = {"ndcg@10": rec["ndcg@10"]["mean"], "recallAt10": rec["recall@10"]["mean"],
               "mrr@10": rec["mrr@10"]["mean"], "hitrate@10": rec["hitrate@10"]["mean"],
               "headline": {k: v for k, v in head.items() if isinstance(v, dict)},
               "best_baseline": head["recommend"]["best_baseline"], "p_vs_best_baseline": head["recommend"]["p_holm"],
               "test_users": tasks["recommend"]["users"]}
    lineage = {"data_hash": data.fingerprint(), "params_hash": params_hash(params),
               "interactions": params.gnn.interactions, "split": exp.stats["split"], "git_commit": git_commit(),
               "seed": run.seed}
    registry = Registry(_root(params, registry_dir))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("user_id.")}
    version = registry.save(
        state, tensors, items=data.items.ids, users=users, config=model.config(), metrics=metrics,
        lineage=lineage, history={"epochCount": len(run.record["history"]),
                                  "lossHistory": [h["train_loss"] for h in run.record["history"]],
                                  "validationAccuracy": run.record["best_val_ndcg10"],
                                  "validationMetric": "ndcg@10 (tune users of the val phase)",
                                  "epochs": run.record["history"]})
    registry.promote(version, "candidate")
    if "production" not in registry.aliases():
        registry.promote(version, "production")
    ctxs = [UserContext(u, p_, q, h.last_time, len(h.items)) for u, p_, q, h in zip(users, pref, pos, hs)]
    from mgw.rerank.features import FeatureSpace

    served_space = FeatureSpace(type(cf)(cf.cut, cf.item_sim, {u: k for k, u in enumerate(users)}, als_user_f,
                                         cf.als_item_f, cf.pop, cf.pop_decayed, cf.last_pos),
                                data.items.embeddings, space.item_genre, space.release_year)
    rr = Reranker(model, data.items.ids, cache, users, user_h, user_e, served_space, ctxs, version=version)
    rr.lineage = lineage
    return rr, version, registry

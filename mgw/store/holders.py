"""The built-in holders of user data (see `forget.py` for the protocol and the registry).

- `UserStoreHolder`: encrypted profiles and watch history, and every user snapshot that holds them.
- `QueryLogHolder`: the query log in every tier, by id and by pseudonym.
- `CallbackHolder`: a `forget(user) -> count` callable, e.g. a cache's `forget_user` from `stores.FORGETTERS`
  (caches cannot list a user's entries, so `find` is empty; they are purged, not verified).
- `ModelRegistryHolder`: reranker versions under `models/reranker/`. The registry convention: a version keeps
  `users.json` (the user ids) and every per-user tensor in its `.safetensors` files has first dimension
  len(users), in that order. Per-user tensors are those listed in a file's safetensors metadata key `per_user`
  (comma-separated), else those whose name has a `user`/`users` component (`user_h`, `user_emb.weight`). A
  version that holds the user is **rewritten without them**: their id leaves users.json, their row leaves every
  per-user tensor, checksums.json is recomputed, and lineage.json records the removal with
  `retrain_recommended: true` (the shared weights were trained with their events and are not retrained here).
  The rewrite is built in a temp directory and swapped in; an interrupted swap is finished on the next run.
- `UserTableFiles`: per-user report files (Parquet, CSV, JSONL under `reports/`) with a `user` or `user_id`
  column; the user's rows are removed and the file replaced atomically.
The metrics archive keeps aggregates only (no user ids) and the content store holds no user data.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from mgw.errors import CorruptFileError, DataError
from mgw.reporting import sha256_file, write_json_atomic
from mgw.store.forget import ForgetContext
from mgw.store.querylog import QueryLog
from mgw.store.snapshots import fsync_dir
from mgw.store.users import UserStore, snapshot_rows

USER_COLUMNS = ("user", "user_id")
PER_USER_META = "per_user"


class UserStoreHolder:
    name = "user store (profiles, history, user snapshots)"

    def __init__(self, users: UserStore):
        self.users = users

    def find(self, user: str) -> list[str]:
        out = []
        try:
            self.users.get(user)
            out.append("users.db: profile")
        except KeyError:
            pass
        if n := len(self.users.history(user)):
            out.append(f"users.db: {n} history rows")
        uid = self.users.uid(user)
        for snap in self.users.snapshots.valid(warn=False) + self.users.snapshots.unverified():
            if n := snapshot_rows(snap.path, uid):
                out.append(f"{snap.path}: {n} rows")
        return out

    def forget(self, user: str) -> int:
        r = self.users.forget(user)
        return r["profiles"] + r["history"] + r["snapshots_rewritten"]


class QueryLogHolder:
    name = "query log (all tiers)"

    def __init__(self, querylog: QueryLog, pseudonym: Callable[[str], str]):
        self.querylog, self.pseudonym = querylog, pseudonym

    def find(self, user: str) -> list[str]:
        df = self.querylog.rows()
        if not len(df):
            return []
        hit = df[df["user"].isin({user, self.pseudonym(user)})]
        return [f"query log {tier}: {n} rows" for tier, n in hit.groupby("tier").size().items()]

    def forget(self, user: str) -> int:
        return self.querylog.forget(user)


class CallbackHolder:
    def __init__(self, name: str, fn: Callable[[str], Any]):
        self.name, self.fn = name, fn

    def find(self, user: str) -> list[str]:
        return []

    def forget(self, user: str) -> int:
        out = self.fn(user)
        if isinstance(out, dict):
            return int(sum(v for v in out.values() if isinstance(v, (int, float))))
        return int(out or 0)


# --------------------------------------------------------------------------- model registry
def _name_tokens(name: str) -> set[str]:
    return set(re.split(r"[._]", name.lower()))


def per_user_tensors(names: list[str], metadata: dict[str, str] | None) -> list[str]:
    """Which tensors of a safetensors file are per-user (module docstring)."""
    if metadata and PER_USER_META in metadata:
        listed = [n.strip() for n in metadata[PER_USER_META].split(",") if n.strip()]
        unknown = set(listed) - set(names)
        if unknown:
            raise CorruptFileError(f"safetensors metadata lists per-user tensors that are absent: {sorted(unknown)}")
        return listed
    return [n for n in names if _name_tokens(n) & {"user", "users"}]


class ModelRegistryHolder:
    name = "model registry (users.json, per-user tensors)"

    def __init__(self, root: Path):
        self.root = Path(root)

    def _versions(self) -> list[Path]:
        self._finish_interrupted()
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and (p / "users.json").is_file()
                      and not p.name.startswith("."))

    def _users(self, d: Path) -> list[str]:
        try:
            users = json.loads((d / "users.json").read_text())
        except (OSError, ValueError) as e:
            raise CorruptFileError(f"{d / 'users.json'} is not readable JSON: {e}") from None
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            raise CorruptFileError(f"{d / 'users.json'} must be a list of user ids")
        return users

    def find(self, user: str) -> list[str]:
        out = [str(d / "users.json") for d in self._versions() if user in self._users(d)]
        out += [str(p) for p in self._leftovers()]
        return out

    def forget(self, user: str) -> int:
        rows = 0
        for d in self._versions():
            users = self._users(d)
            if user in users:
                rows += self._rewrite_without(d, users, user)
        return rows

    # -- the rewrite: build `.forget-<v>.new`, swap it in through `.forget-<v>.old`
    def _leftovers(self) -> list[Path]:
        return sorted(self.root.glob(".forget-*")) if self.root.is_dir() else []

    def _finish_interrupted(self) -> None:
        for old in self.root.glob(".forget-*.old") if self.root.is_dir() else []:
            v = old.name[len(".forget-"):-len(".old")]
            new = self.root / f".forget-{v}.new"
            if not (self.root / v).exists() and new.is_dir():
                os.rename(new, self.root / v)  # crashed between the two renames: finish the swap
            shutil.rmtree(old)  # the old version still holds the user: never keep it
        for new in self.root.glob(".forget-*.new") if self.root.is_dir() else []:
            shutil.rmtree(new)  # crashed before the swap: the version is unchanged, start again

    def _rewrite_without(self, d: Path, users: list[str], user: str) -> int:
        from safetensors import safe_open
        from safetensors.torch import save_file

        idx = users.index(user)
        new, old = self.root / f".forget-{d.name}.new", self.root / f".forget-{d.name}.old"
        shutil.rmtree(new, ignore_errors=True)
        shutil.copytree(d, new)
        try:
            changed: dict[str, list[str]] = {}
            for f in sorted(new.glob("*.safetensors")):
                with safe_open(f, framework="pt") as st:
                    meta = st.metadata()
                    names = list(st.keys())
                    tensors = {n: st.get_tensor(n) for n in names}
                rows = per_user_tensors(names, meta)
                for n in rows:
                    if tensors[n].ndim == 0 or tensors[n].shape[0] != len(users):
                        raise DataError(f"{d / f.name}: per-user tensor {n!r} has shape {tuple(tensors[n].shape)}, "
                                        f"not first dimension len(users) = {len(users)} (registry convention)")
                    t = tensors[n]
                    tensors[n] = t[[i for i in range(len(users)) if i != idx]].contiguous()
                if rows:
                    save_file(tensors, f, metadata=meta)
                    changed[f.name] = rows
            write_json_atomic(new / "users.json", [u for u in users if u != user])
            lineage_path = new / "lineage.json"
            if lineage_path.exists():
                lineage = json.loads(lineage_path.read_text())
                if isinstance(lineage, dict):
                    lineage.setdefault("forgotten", []).append({
                        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "users_removed": 1,
                        "tensors": changed, "retrain_recommended": True,
                        "why": "privacy forget: the user's id and per-user rows were removed; the shared weights "
                               "were trained with their events and keep that influence until retrained"})
                    write_json_atomic(lineage_path, lineage)
            sums_path = new / "checksums.json"
            if sums_path.exists():
                sums = json.loads(sums_path.read_text())
                write_json_atomic(sums_path, {name: sha256_file(new / name) for name in sums})
            for f in new.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            fsync_dir(new)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        os.rename(d, old)
        os.rename(new, d)
        fsync_dir(self.root)
        shutil.rmtree(old)
        return 1 + sum(len(v) for v in changed.values())


# --------------------------------------------------------------------------- per-user tables
class UserTableFiles:
    name = "per-user report files (parquet/csv/jsonl with a user column)"
    SUFFIXES = (".parquet", ".csv", ".jsonl")

    def __init__(self, roots: list[Path], columns: tuple[str, ...] = USER_COLUMNS):
        self.roots, self.columns = [Path(r) for r in roots], columns

    def _files(self) -> list[Path]:
        out = []
        for root in self.roots:
            if root.is_dir():
                out += [p for p in sorted(root.rglob("*")) if p.suffix in self.SUFFIXES and p.is_file()
                        and not p.is_symlink()]
        return out

    def find(self, user: str) -> list[str]:
        return [f"{p}: {n} rows" for p in self._files() if (n := self._edit(p, user, write=False))]

    def forget(self, user: str) -> int:
        return sum(self._edit(p, user, write=True) for p in self._files())

    def _edit(self, path: Path, user: str, write: bool) -> int:
        return {".parquet": self._parquet, ".csv": self._csv, ".jsonl": self._jsonl}[path.suffix](path, user, write)

    def _column(self, names: list[str]) -> str | None:
        return next((c for c in self.columns if c in names), None)

    def _parquet(self, path: Path, user: str, write: bool) -> int:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        col = self._column(pq.read_schema(path).names)
        if col is None:
            return 0
        table = pq.read_table(path)
        hit = pc.fill_null(pc.equal(pc.cast(table[col], pa.string()), user), False)
        n = int(pc.sum(hit).as_py() or 0)
        if n and write:
            buf = io.BytesIO()
            pq.write_table(table.filter(pc.invert(hit)), buf)
            _replace_bytes(path, buf.getvalue())
        return n

    def _csv(self, path: Path, user: str, write: bool) -> int:
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:  # bytes kept as they are
            rows = list(csv.reader(f))
        if not rows or (col := self._column(rows[0])) is None:
            return 0
        i = rows[0].index(col)
        keep = [rows[0]] + [r for r in rows[1:] if not (len(r) > i and r[i] == user)]
        n = len(rows) - len(keep)
        if n and write:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(keep)
            _replace_bytes(path, out.getvalue().encode("utf-8", errors="surrogateescape"))
        return n

    def _jsonl(self, path: Path, user: str, write: bool) -> int:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines(keepends=True)
        keep = []
        for line in lines:
            try:
                obj = json.loads(line) if line.strip() else None
            except ValueError:
                obj = None
            if isinstance(obj, dict) and any(obj.get(c) == user for c in self.columns):
                continue
            keep.append(line)
        n = len(lines) - len(keep)
        if n and write:
            _replace_bytes(path, "".join(keep).encode("utf-8", errors="surrogateescape"))
        return n


def _replace_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- built-in factories
BUILTIN_FACTORIES: list[Callable[[ForgetContext], Any]] = [
    lambda ctx: UserStoreHolder(ctx.stores.users),
    lambda ctx: QueryLogHolder(ctx.stores.querylog, ctx.stores.users.pseudonym),
    lambda ctx: [CallbackHolder(f"hook {getattr(f, '__qualname__', repr(f))}", f) for f in ctx.stores.forgetters],
    lambda ctx: ModelRegistryHolder(ctx.registry_dir),
    lambda ctx: UserTableFiles([ctx.reports_dir]),
]

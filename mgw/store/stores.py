"""All stores of one root opened together from params, and the right to be forgotten across them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mgw.config import ROOT, Params
from mgw.store.backend import Backend
from mgw.store.content import ContentStore
from mgw.store.crypto import Cipher, load_key
from mgw.store.exact_scan import scan_tree
from mgw.store.metrics_archive import MetricsArchive
from mgw.store.querylog import QueryLog
from mgw.store.users import UserStore

# Callables `(user_id) -> dict | int | None` called by `Stores.forget`; other layers (e.g. the cache) register
# here so the store never imports them: `mgw.store.stores.FORGETTERS.append(my_cache.forget_user)`.
FORGETTERS: list[Callable[[str], Any]] = []


def store_root(params: Params) -> Path:
    root = Path(params.store.root)
    return root if root.is_absolute() else ROOT / root


def key_path(params: Params) -> Path | None:
    kf = params.store.key_file
    if kf is None:
        return None
    p = Path(kf)
    return p if p.is_absolute() else ROOT / p


def content_store(params: Params, root: Path | None = None, backend: Any = None, **kw: Any) -> ContentStore:
    s, ix = params.store, params.index
    return ContentStore(root or store_root(params) / "content", dim=params.embed.dim,
                        backend=index_backend(params, backend or s.backend or ix.backend), metric=ix.metric,
                        snapshot_dir=s.snapshot_dir, max_snapshots=s.maxSnapshots, max_age_s=s.maxAgeHours * 3600,
                        persist_interval_s=s.persistIntervalS if s.autoPersist else None,
                        compact_min=s.compact_min, compact_ratio=s.compact_ratio, **kw)


def restore_content(params: Params, name: str | None = None) -> dict[str, Any]:
    """`mgw snapshot restore`: make the content store equal to a snapshot (newest valid by default). A content.db
    that cannot be opened is first set aside (moved, not deleted) and the snapshot restored into a fresh store."""
    from mgw.store.content import CorruptStoreError, set_aside_database

    root = store_root(params) / "content"
    out: dict[str, Any] = {}
    try:
        store = content_store(params)
    except CorruptStoreError as e:
        out = {"set_aside": str(set_aside_database(root)), "because": str(e)}
        store = content_store(params)
    with store:
        return {**store.restore(name), **out}


def index_backend(params: Params, spec: Any) -> Any:
    """An `mgw.index` backend name (or faiss alias) → a Backend whose indexes come from `mgw.index.from_params`
    (so index.M, efConstruction, efSearch, factory and threads apply); a Backend or "module:fn" spec as is."""
    if not isinstance(spec, str) or ":" in spec:
        return spec
    from mgw.index import from_params, load_index

    return Backend(spec, lambda dim, metric: from_params(params, dim, backend=spec, metric=metric), load_index)


@dataclass
class Stores:
    root: Path
    users: UserStore
    querylog: QueryLog
    metrics: MetricsArchive
    content: ContentStore | None = None
    forgetters: list[Callable[[str], Any]] = field(default_factory=list)

    @classmethod
    def open(cls, params: Params, root: Path | None = None, cipher: Cipher | None = None,
             content: ContentStore | None = None, forgetters: list[Callable[[str], Any]] | None = None) -> "Stores":
        root = Path(root or store_root(params))
        cipher = cipher or Cipher(load_key(key_path(params), params.store.key_env))
        users = UserStore(root / "users", cipher, content, snapshot_dir=params.store.snapshot_dir,
                          max_snapshots=params.store.maxSnapshots, max_age_s=params.store.maxAgeHours * 3600)
        ql = QueryLog(root / "logs", users.pseudonym, cipher, retention_days=params.store.querylog_retention_days,
                      pseudonymize_after_days=params.store.pseudonymize_after_days)
        return cls(root, users, ql, MetricsArchive(root / "metrics"), content,
                   list(forgetters if forgetters is not None else FORGETTERS))

    def forget(self, user_id: str) -> dict[str, Any]:
        """Seed §6.2 right to be forgotten: profile, history, user snapshots, query log (every tier, by id and
        pseudonym), and every registered cache forgetter."""
        report: dict[str, Any] = {"user": user_id}
        report.update(self.users.forget(user_id))
        report["querylog_rows"] = self.querylog.forget(user_id)
        report["hooks"] = [f(user_id) for f in self.forgetters]
        return report

    def find_user(self, user_id: str) -> dict[str, int]:
        """Every trace of `user_id` in every store, through the APIs and as an exact id token in every file
        (`exact_scan`). `mgw privacy forget` goes further: `forget.forget_everywhere`."""
        found = {"profile": 0, "history": len(self.users.history(user_id)), "snapshot_rows": 0, "querylog_rows": 0,
                 "raw_files": 0}
        try:
            self.users.get(user_id)
            found["profile"] = 1
        except KeyError:
            pass
        import sqlite3

        uid = self.users.uid(user_id)
        for snap in self.users.snapshots.valid(warn=False):
            c = sqlite3.connect(f"file:{snap.path}?mode=ro&immutable=1", uri=True)
            found["snapshot_rows"] += c.execute("SELECT (SELECT COUNT(*) FROM profiles WHERE uid=?) + "
                                                "(SELECT COUNT(*) FROM history WHERE uid=?)", (uid, uid)).fetchone()[0]
            c.close()
        df = self.querylog.rows()
        if len(df):
            found["querylog_rows"] = int(df["user"].isin({user_id, self.users.pseudonym(user_id)}).sum())
        found["raw_files"] = len(scan_tree([self.root], [user_id, uid]).hits)  # exact ids: ml:1 is not ml:10
        return found

    def close(self) -> None:
        for s in (self.users, self.querylog, self.metrics):
            s.close()

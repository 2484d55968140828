"""Content store: SQLite (WAL, synchronous=FULL) is the source of truth; the ANN index is derived from it
and published as immutable versions.

Guarantees (seed §2.2.1) and how they are kept:
- atomic: a `transaction()` buffers and validates every operation; on commit the rows, the change log and the
  new index version are all prepared inside one SQLite transaction, and the version is published only after
  COMMIT returns. Any failure before that rolls SQLite back and drops the prepared version.
- consistent: the published version always answers for exactly the committed rows (checked on open).
- isolated: a search takes one reference to the published `IndexVersion` and never sees a later one or part
  of one. A version is a frozen base index plus a small exact delta (new/updated vectors) and tombstones;
  commits copy only the delta, and a compaction rebuilds the base when the delta grows. Works with any backend
  that can `build` and `search`.
- durable: WAL + synchronous=FULL; a returned commit survives a process crash (see tests/test_store_crash.py).
Recovery on open loads the newest valid snapshot's index and replays the change log after its watermark.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import json
import logging
import math
import shutil
import sqlite3
import tempfile
import threading
import time
import typing
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from pydantic import TypeAdapter, ValidationError

from mgw.data.schema import ContentEntity, column_names
from mgw.errors import CorruptFileError, DataError, DimensionError, DuplicateIdError, MgwError, NotSupportedError, \
    UnknownIdError
from mgw.index.validation import as_int, check_manifest_name
from mgw.store.backend import Backend
from mgw.store.snapshots import Snapshot, SnapshotDir, resolve_inside

log = logging.getLogger(__name__)
FIELDS = column_names(ContentEntity)


@functools.lru_cache(maxsize=1)
def _field_types() -> dict[str, TypeAdapter]:
    """A strict validator per ContentEntity field (from its annotation): the schema is defined once, there."""
    return {name: TypeAdapter(hint) for name, hint in typing.get_type_hints(ContentEntity).items()}


def check_doc_types(doc: dict[str, Any]) -> None:
    """Every field present has its ContentEntity type (strict: no "1995" for a year, no str for a list)."""
    problems = []
    adapters = _field_types()
    for name, value in doc.items():
        try:
            adapters[name].validate_python(value, strict=True)
        except ValidationError as e:
            problems.append(f"{name}={value!r:.60}: {e.errors()[0]['msg']}")
    if problems:
        raise DataError(f"{doc.get('entity_id')!r}: wrong field types: {'; '.join(problems)}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS content (entity_id TEXT PRIMARY KEY, doc TEXT NOT NULL, embedding BLOB NOT NULL,
                                    version INTEGER NOT NULL, indexed_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS changes (version INTEGER NOT NULL, entity_id TEXT NOT NULL, op TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS changes_version ON changes(version);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS index_files (name TEXT PRIMARY KEY, data BLOB NOT NULL);
"""


class StoreLockedError(MgwError):
    """Another process holds this store's writer lock."""


class CorruptStoreError(CorruptFileError):
    """content.db cannot be read as the store's database (truncated, overwritten); see `set_aside_database`."""


DB_FILES = ("content.db", "content.db-wal", "content.db-shm")


def set_aside_database(root: str | Path) -> Path:
    """Move a broken content.db (and its WAL files) into `root/corrupt-<ISO>/`, so that a fresh store can be
    restored from a snapshot; nothing is deleted (the files stay for inspection)."""
    from mgw.store.snapshots import iso_now

    root = Path(root)
    dest = root / f"corrupt-{iso_now()}"
    dest.mkdir(parents=True)
    for name in DB_FILES:
        if (root / name).exists():
            os.replace(root / name, dest / name)
    return dest


def connect(path: Path | str, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's durability settings."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    return conn


# --------------------------------------------------------------------------- index versions
def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class IndexVersion:
    """One immutable, searchable state: `base` (built at `base_version`) minus `tomb`, plus the exact delta."""

    version: int
    base: Any
    base_ids: frozenset
    base_version: int
    delta_ids: tuple = ()
    delta_vecs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    tomb: frozenset = frozenset()

    @property
    def count(self) -> int:
        return len(self.base_ids) - len(self.tomb) + len(self.delta_ids)

    def live_ids(self) -> set[str]:
        return (set(self.base_ids) - self.tomb) | set(self.delta_ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[list[list[str]], list[list[float]]]:
        q = _unit(np.atleast_2d(np.asarray(queries, np.float32)))
        cand: list[list[tuple[float, str]]] = [[] for _ in range(len(q))]
        n_base = len(self.base_ids)
        if n_base:
            kb = min(k + len(self.tomb), n_base)
            ids, scores = self.base.search(q, kb)
            for row, (ri, rs) in enumerate(zip(ids, scores)):
                cand[row] += [(float(s), str(i)) for i, s in zip(ri, rs)
                              if i is not None and str(i) not in self.tomb and not (isinstance(s, float) and math.isnan(s))]
        if len(self.delta_ids):
            sims = q @ self.delta_vecs.T
            top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            for row in range(len(q)):
                cand[row] += [(float(sims[row, j]), self.delta_ids[j]) for j in top[row]]
        out_ids, out_scores = [], []
        for c in cand:
            c.sort(key=lambda t: (-t[0], t[1]))
            out_ids.append([i for _, i in c[:k]])
            out_scores.append([s for s, _ in c[:k]])
        return out_ids, out_scores


# --------------------------------------------------------------------------- transactions
@dataclass
class _Op:
    op: str  # insert | update | delete
    entity_id: str
    doc: dict | None = None
    vector: np.ndarray | None = None


class Transaction:
    """Buffered, validated operations; applied all-or-nothing when the `with` block exits cleanly."""

    def __init__(self, store: "ContentStore"):
        self.store = store
        self.ops: list[_Op] = []
        self._state: dict[str, bool] = {}  # id -> exists after buffered ops

    def _exists(self, eid: str) -> bool:
        if eid in self._state:
            return self._state[eid]
        return self.store._exists(eid)

    def _rows(self, items: Sequence[Any], vectors: Any) -> list[tuple[dict, np.ndarray]]:
        items = list(items)
        if vectors is None:
            try:
                vectors = [it["embedding"] if isinstance(it, dict) else it.embedding for it in items]
            except (KeyError, AttributeError) as e:
                raise DataError("each item needs an 'embedding' unless vectors= is given") from e
        vecs = np.asarray(vectors, dtype=np.float32) if len(items) else np.zeros((0, self.store.dim), np.float32)
        if vecs.ndim != 2 or vecs.shape[0] != len(items):
            raise DataError(f"expected {len(items)} vectors as a 2-D array, got shape {vecs.shape}")
        if vecs.shape[1] != self.store.dim:
            raise DimensionError(f"store dimension is {self.store.dim}, got vectors of dimension {vecs.shape[1]}")
        if not np.isfinite(vecs).all():
            raise DataError("vectors contain NaN or inf")
        if (np.linalg.norm(vecs, axis=1) == 0).any():
            raise DataError("zero vectors cannot be indexed")
        docs = []
        for it in items:
            d = it.to_dict() if isinstance(it, ContentEntity) else dict(it)
            d.pop("embedding", None)
            unknown = set(d) - set(FIELDS)
            if unknown:
                raise DataError(f"unknown content fields: {sorted(unknown)}")
            if not d.get("entity_id") or not isinstance(d["entity_id"], str):
                raise DataError("every item needs a string entity_id")
            if not d.get("title"):
                raise DataError(f"{d['entity_id']}: title is required")
            check_doc_types(d)
            docs.append(d)
        ids = [d["entity_id"] for d in docs]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise DuplicateIdError(f"ids given twice in one batch: {sorted(dup)[:5]}")
        return list(zip(docs, vecs.copy()))

    def insert_batch(self, items: Sequence[Any], vectors: Any = None) -> "Transaction":
        rows = self._rows(items, vectors)
        present = [d["entity_id"] for d, _ in rows if self._exists(d["entity_id"])]
        if present:
            raise DuplicateIdError(f"ids already in the store: {present[:5]}")
        for d, v in rows:
            self.ops.append(_Op("insert", d["entity_id"], d, v))
            self._state[d["entity_id"]] = True
        return self

    def update_batch(self, items: Sequence[Any], vectors: Any = None) -> "Transaction":
        rows = self._rows(items, vectors)
        missing = [d["entity_id"] for d, _ in rows if not self._exists(d["entity_id"])]
        if missing:
            raise UnknownIdError(f"cannot update unknown ids: {missing[:5]}")
        for d, v in rows:
            self.ops.append(_Op("update", d["entity_id"], d, v))
        return self

    def delete(self, ids: Iterable[str]) -> "Transaction":
        ids = [str(i) for i in ids]
        if len(set(ids)) != len(ids):
            raise DuplicateIdError("ids given twice in one delete")
        missing = [i for i in ids if not self._exists(i)]
        if missing:
            raise UnknownIdError(f"cannot delete unknown ids: {missing[:5]}")
        for i in ids:
            self.ops.append(_Op("delete", i))
            self._state[i] = False
        return self


# --------------------------------------------------------------------------- store
class ContentStore:
    """Open (creating if needed) the content store in `root`. One writer process at a time (file lock)."""

    def __init__(self, root: str | Path, dim: int = 384, backend: Backend | str = "hnswlib", metric: str = "cosine",
                 snapshot_dir: str = "snapshots", max_snapshots: int = 168, max_age_s: float = 7 * 86400,
                 persist_interval_s: float | None = None, compact_min: int = 1024, compact_ratio: float = 0.2,
                 readonly: bool = False, **build_params: Any):
        if metric not in ("cosine", "ip"):
            raise NotSupportedError(f"the content store ranks by similarity; metric {metric!r} is not supported")
        self.root = Path(root).resolve()
        self.snapshots = SnapshotDir(resolve_inside(self.root, snapshot_dir), "content")
        self.dim, self.metric = int(dim), metric
        self.backend = Backend.resolve(backend, **build_params)
        self.max_snapshots, self.max_age_s = max_snapshots, max_age_s
        self.persist_interval_s = persist_interval_s
        self.compact_min, self.compact_ratio = compact_min, compact_ratio
        self.readonly = readonly
        self._lock = threading.RLock()
        self._local = threading.local()
        self._fault: Any = None  # tests: callable(stage) raising to simulate a failure half-way
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "content.db"
        self._lockfile = None
        if not readonly:
            self._lockfile = open(self.root / ".writer.lock", "a+")
            try:
                fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lockfile.close()
                raise StoreLockedError(f"another process is writing to {self.root}") from None
        self.recovery: dict[str, Any] = {}
        existed = {n for n in DB_FILES if (self.root / n).exists()}
        try:
            if self.db_path.exists() and self.db_path.stat().st_size == 0 and self.snapshots.candidates():
                raise sqlite3.DatabaseError("the file is empty but snapshots exist (truncated?)")
            self.conn = connect(self.db_path, readonly=readonly)
            if not readonly:
                self.conn.executescript(SCHEMA)
                self._init_meta()
            self._published: IndexVersion = self._recover()
        except sqlite3.DatabaseError as e:
            self.close()
            for n in set(DB_FILES) - existed:  # leave the folder as it was: drop the empty WAL files just created
                f = self.root / n
                if f.exists() and f.stat().st_size == 0:
                    f.unlink()
            raise CorruptStoreError(f"{self.db_path} is not a readable store database ({e}); "
                                    f"`mgw snapshot restore` sets it aside and restores the newest valid snapshot") \
                from None

    # ------------------------------------------------------------------ meta
    def _init_meta(self) -> None:
        cur = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        if "dim" in cur and int(cur["dim"]) != self.dim:
            raise DimensionError(f"store at {self.root} holds dimension {cur['dim']}, opened with {self.dim}")
        if "store_id" not in cur:
            with self._tx():
                self.conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)",
                                      [("store_id", uuid.uuid4().hex), ("dim", str(self.dim)), ("version", "0")])

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def version(self) -> int:
        return self._published.version

    def __len__(self) -> int:
        return self._published.count

    @contextlib.contextmanager
    def _tx(self):
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _reader(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = connect(self.db_path, readonly=True)
        return c

    def _exists(self, eid: str) -> bool:
        with self._lock:
            return self.conn.execute("SELECT 1 FROM content WHERE entity_id=?", (eid,)).fetchone() is not None

    # ------------------------------------------------------------------ index building
    def _build_base(self, version: int, conn: sqlite3.Connection | None = None) -> IndexVersion:
        conn = conn or self.conn
        rows = conn.execute("SELECT entity_id, embedding FROM content ORDER BY entity_id").fetchall()
        if not rows:
            return IndexVersion(version, None, frozenset(), version, (), np.zeros((0, self.dim), np.float32))
        ids = [r[0] for r in rows]
        vecs = _unit(np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), self.dim))
        index = self.backend.factory(self.dim, self.metric)
        index.build(vecs, ids)
        return IndexVersion(version, index, frozenset(ids), version, (), np.zeros((0, self.dim), np.float32))

    def _apply(self, cur: IndexVersion, version: int, changed: dict[str, np.ndarray | None]) -> IndexVersion:
        """New version = `cur` with `changed` (id -> new vector, None = deleted) applied to the delta."""
        delta = dict(zip(cur.delta_ids, cur.delta_vecs))
        tomb = set(cur.tomb)
        for eid, vec in changed.items():
            delta.pop(eid, None)
            if eid in cur.base_ids:
                tomb.add(eid)
            if vec is not None:
                delta[eid] = _unit(vec[None, :])[0]
        ids = tuple(delta)
        vecs = np.stack([delta[i] for i in ids]).astype(np.float32) if ids else np.zeros((0, self.dim), np.float32)
        return IndexVersion(version, cur.base, cur.base_ids, cur.base_version, ids, vecs, frozenset(tomb))

    def _needs_compaction(self, v: IndexVersion) -> bool:
        return len(v.delta_ids) + len(v.tomb) > max(self.compact_min, self.compact_ratio * v.count)

    # ------------------------------------------------------------------ writes
    def transaction(self) -> "_TxContext":
        if self.readonly:
            raise NotSupportedError("store opened read-only")
        return _TxContext(self)

    def insert_batch(self, items: Sequence[Any], vectors: Any = None) -> int:
        with self.transaction() as tx:
            tx.insert_batch(items, vectors)
        return self.version

    def _commit(self, tx: Transaction) -> int:
        if not tx.ops:
            return self.version
        with self._lock:
            now = time.time()
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(self._meta("version")) + 1
                changed: dict[str, np.ndarray | None] = {}
                for op in tx.ops:
                    if op.op == "delete":
                        self.conn.execute("DELETE FROM content WHERE entity_id=?", (op.entity_id,))
                        changed[op.entity_id] = None
                    else:
                        blob = np.ascontiguousarray(op.vector, np.float32).tobytes()
                        doc = json.dumps(op.doc, sort_keys=True)
                        if op.op == "insert":
                            self.conn.execute("INSERT INTO content VALUES (?,?,?,?,?,?)",
                                              (op.entity_id, doc, blob, version, now, now))
                        else:
                            self.conn.execute("UPDATE content SET doc=?, embedding=?, version=?, updated_at=? "
                                              "WHERE entity_id=?", (doc, blob, version, now, op.entity_id))
                        changed[op.entity_id] = op.vector
                    self.conn.execute("INSERT INTO changes VALUES (?,?,?)", (version, op.entity_id, op.op))
                    if self._fault:
                        self._fault("row")
                self.conn.execute("UPDATE meta SET value=? WHERE key='version'", (str(version),))
                new = self._apply(self._published, version, changed)
                if self._needs_compaction(new):
                    new = self._build_base(version)
                if self._fault:
                    self._fault("before_commit")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self._published = new  # one reference swap: readers see the old or the new version
        self._maybe_autopersist()
        return version

    # ------------------------------------------------------------------ reads
    def search(self, queries: Any, k: int = 10) -> tuple[list[list[str]], list[list[float]]]:
        """Top-k (ids, similarity) per query against one consistent committed version."""
        q = np.asarray(queries, np.float32)
        if q.ndim not in (1, 2) or q.shape[-1] != self.dim:
            raise DimensionError(f"store dimension is {self.dim}, got queries of shape {q.shape}")
        if not np.isfinite(q).all():
            raise DataError("queries contain NaN or inf")
        if as_int(k, "k", "content store") <= 0:
            raise DataError(f"k must be positive, got {k}")
        return self._published.search(np.atleast_2d(q), k)

    def get(self, entity_id: str, with_embedding: bool = False) -> dict[str, Any]:
        row = self._reader().execute("SELECT doc, embedding, version FROM content WHERE entity_id=?",
                                     (entity_id,)).fetchone()
        if row is None:
            raise UnknownIdError(f"unknown content id {entity_id!r}")
        doc = json.loads(row[0])
        if with_embedding:
            doc["embedding"] = np.frombuffer(row[1], np.float32).copy()
        return doc

    def ids(self) -> list[str]:
        return [r[0] for r in self._reader().execute("SELECT entity_id FROM content ORDER BY entity_id")]

    def embeddings(self) -> tuple[list[str], np.ndarray]:
        rows = self._reader().execute("SELECT entity_id, embedding FROM content ORDER BY entity_id").fetchall()
        vecs = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), self.dim)
        return [r[0] for r in rows], vecs

    def genre_vectors(self) -> tuple[list[str], list[list[str]], np.ndarray]:
        """(ids, genres per id, unit embeddings) for preference learning."""
        rows = self._reader().execute("SELECT entity_id, doc, embedding FROM content ORDER BY entity_id").fetchall()
        vecs = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(len(rows), self.dim)
        return [r[0] for r in rows], [json.loads(r[1]).get("genres", []) for r in rows], _unit(vecs) if len(rows) else vecs

    def check(self) -> dict[str, Any]:
        """Consistency check: SQLite integrity, and the published index answers for exactly the committed rows."""
        integrity = self.conn.execute("PRAGMA integrity_check").fetchone()[0]
        db_ids = set(self.ids())
        idx_ids = self._published.live_ids()
        return {"integrity": integrity, "rows": len(db_ids), "indexed": len(idx_ids),
                "consistent": integrity == "ok" and db_ids == idx_ids, "version": self.version}

    # ------------------------------------------------------------------ snapshots & recovery
    def _recover(self) -> IndexVersion:
        t0 = time.perf_counter()
        version = int(self._meta("version") or 0)
        store_id = self._meta("store_id")
        info: dict[str, Any] = {"version": version, "snapshot": None, "replayed": 0, "skipped": []}
        cur = None
        for path in self.snapshots.candidates():
            try:
                snap = self.snapshots.validate(path)
                if snap.meta.get("store_id") != store_id or snap.watermark > version:
                    continue
                if snap.meta.get("backend") != self.backend.name or snap.meta.get("dim") != self.dim:
                    continue
                cur = self._load_snapshot_index(snap)
                info["snapshot"] = snap.name
                break
            except (CorruptFileError, sqlite3.DatabaseError, MgwError, OSError, ValueError) as e:
                log.warning("skipping snapshot %s: %s", path.name, e)
                info["skipped"].append(path.name)
        if cur is not None:
            rows = self.conn.execute(
                "SELECT DISTINCT c.entity_id, t.embedding FROM changes c LEFT JOIN content t USING(entity_id) "
                "WHERE c.version > ?", (cur.version,)).fetchall()
            changed = {eid: (np.frombuffer(emb, np.float32) if emb is not None else None) for eid, emb in rows}
            info["replayed"] = len(changed)
            # changes for ids the snapshot never had and that are gone now need no tombstone
            changed = {k: v for k, v in changed.items() if v is not None or k in cur.base_ids or k in cur.delta_ids}
            cur = self._apply(cur, version, changed)
            if set(self.ids()) != cur.live_ids():  # change log pruned too far: derive from scratch
                log.warning("snapshot + change log do not match the rows; rebuilding the index")
                cur = None
        if cur is None:
            cur = self._build_base(version)
            info["rebuilt"] = True
        elif self._needs_compaction(cur):
            cur = self._build_base(version)
        info["seconds"] = time.perf_counter() - t0
        self.recovery = info
        return cur

    def _load_snapshot_index(self, snap: Snapshot) -> IndexVersion:
        conn = sqlite3.connect(f"file:{snap.path}?mode=ro&immutable=1", uri=True)
        try:
            files = conn.execute("SELECT name, data FROM index_files").fetchall()
            ids = frozenset(r[0] for r in conn.execute("SELECT entity_id FROM content"))
        finally:
            conn.close()
        if not files:
            return IndexVersion(snap.watermark, None, frozenset(), snap.watermark, (), np.zeros((0, self.dim), np.float32))
        with tempfile.TemporaryDirectory() as d:
            for name, data in files:
                p = Path(d) / check_manifest_name(name, snap.name)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
            index = self.backend.loader(Path(d) / "index")
        return IndexVersion(snap.watermark, index, ids, snap.watermark, (), np.zeros((0, self.dim), np.float32))

    def compact(self) -> IndexVersion:
        """Rebuild the base index from the committed rows when there is a delta; publish and return the version."""
        with self._lock:
            cur = self._published
            if cur.delta_ids or cur.tomb:
                cur = self._published = self._build_base(cur.version)
            return cur

    def snapshot(self, now: float | None = None) -> Snapshot:
        """Compact, then write `content-<ISO>.rvdb` (rows + saved index at the watermark) and its meta."""
        if self.readonly:
            raise NotSupportedError("store opened read-only")
        with self._lock:
            cur = self.compact()

            def fill(tmp: Path) -> dict[str, Any]:
                # the temp file is worthless after a crash, so no journal; SnapshotDir fsyncs it once at the end
                dst = sqlite3.connect(str(tmp), isolation_level=None)
                try:
                    dst.execute("PRAGMA journal_mode=OFF")
                    dst.execute("PRAGMA synchronous=OFF")
                    dst.executescript(SCHEMA)
                    dst.execute("ATTACH DATABASE ? AS src", (f"file:{self.db_path}?mode=ro",))
                    dst.execute("BEGIN")
                    dst.execute("INSERT INTO content SELECT * FROM src.content")
                    dst.execute("INSERT INTO meta SELECT * FROM src.meta")
                    if cur.base is not None:
                        with tempfile.TemporaryDirectory() as d:
                            cur.base.save(Path(d) / "index")
                            for p in sorted(Path(d).rglob("*")):
                                if p.is_file():
                                    dst.execute("INSERT INTO index_files VALUES (?, ?)",
                                                (str(p.relative_to(d)), p.read_bytes()))
                    dst.execute("COMMIT")
                    dst.execute("DETACH DATABASE src")
                finally:
                    dst.close()
                return {"count": cur.count, "watermark": cur.version, "store_id": self._meta("store_id"),
                        "dim": self.dim, "metric": self.metric, "backend": self.backend.name}

            snap = self.snapshots.write(fill, params={"max_snapshots": self.max_snapshots,
                                                      "max_age_s": self.max_age_s}, now=now)
            self.prune(now=now)
            return snap

    def prune(self, now: float | None = None) -> list[str]:
        """Retention on snapshots, then drop change-log rows no retained snapshot needs."""
        with self._lock:
            removed = self.snapshots.prune(self.max_snapshots, self.max_age_s, now=now)
            mine = [s for s in self.snapshots.valid(warn=False) if s.meta.get("store_id") == self._meta("store_id")]
            if mine:
                with self._tx():
                    self.conn.execute("DELETE FROM changes WHERE version <= ?", (min(s.watermark for s in mine),))
            return removed

    def _maybe_autopersist(self) -> None:
        if not self.persist_interval_s:
            return
        valid = self.snapshots.valid(warn=False)
        if not valid or time.time() - valid[0].created >= self.persist_interval_s:
            self.snapshot()

    def restore(self, name: str | None = None) -> dict[str, Any]:
        """Make the committed rows equal to a snapshot's rows (newest valid if `name` is None), as one new
        transaction; works on a fresh store too (disaster recovery from the snapshot directory)."""
        snaps = [self.snapshots.find(name)] if name else self.snapshots.valid()
        if not snaps:
            raise CorruptFileError(f"no valid snapshot in {self.snapshots.dir}")
        snap = snaps[0]
        src = sqlite3.connect(f"file:{snap.path}?mode=ro&immutable=1", uri=True)
        try:
            rows = src.execute("SELECT entity_id, doc, embedding FROM content").fetchall()
        finally:
            src.close()
        if rows and len(rows[0][2]) != 4 * self.dim:
            raise DimensionError(f"snapshot holds dimension {len(rows[0][2]) // 4}, store has {self.dim}")
        snap_ids = {r[0] for r in rows}
        with self.transaction() as tx:
            gone = [i for i in self.ids() if i not in snap_ids]
            if gone:
                tx.delete(gone)
            have = set(self.ids())
            ins = [r for r in rows if r[0] not in have]
            upd = [r for r in rows if r[0] in have]
            for kind, group in (("insert", ins), ("update", upd)):
                if group:
                    docs = [json.loads(r[1]) for r in group]
                    vecs = np.stack([np.frombuffer(r[2], np.float32) for r in group])
                    (tx.insert_batch if kind == "insert" else tx.update_batch)(docs, vecs)
        return {"snapshot": snap.name, "rows": len(rows), "deleted": len(gone), "version": self.version}

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()  # AttributeError when the database never opened
        if self._lockfile:
            self._lockfile.close()
            self._lockfile = None

    def __enter__(self) -> "ContentStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _TxContext:
    def __init__(self, store: ContentStore):
        self.store = store
        self.tx = Transaction(store)

    def __enter__(self) -> Transaction:
        return self.tx

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.store._commit(self.tx)
        return False


def remove_store(root: str | Path) -> None:
    shutil.rmtree(root, ignore_errors=True)

"""User store (seed §2.1.2, §4.3): encrypted profiles and preference embeddings, watch history as a time series,
preference learning from interactions (seed §4.3.2), key rotation, and user snapshots.

Everything personal is AES-256-GCM encrypted (`crypto.Cipher`); rows are keyed by a keyed pseudonym of the
user id (HMAC with a random per-store pepper, itself stored encrypted), so the user id never appears in clear
on disk. SQLite runs with secure_delete so forgotten rows are overwritten, not just unlinked.
Cache invalidation is a hook: `on_change` callables get the user id after every preference update (wire
`mgw.cache` there); the store does not import the cache.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from mgw.errors import DataError, UnknownIdError
from mgw.store.content import ContentStore, connect
from mgw.store.crypto import Cipher
from mgw.store.snapshots import Snapshot, SnapshotDir, resolve_inside

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (uid TEXT PRIMARY KEY, blob BLOB NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS history (uid TEXT NOT NULL, ts REAL NOT NULL, blob BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS history_uid_ts ON history(uid, ts);
CREATE TABLE IF NOT EXISTS dp_ledger (ts REAL NOT NULL, purpose TEXT NOT NULL, epsilon REAL NOT NULL);
"""
# seed §4.3.2 weight increases
WATCH_BOOST, SKIP_BOOST, HIGH_RATING_BOOST = 0.10, 0.05, 0.20


@dataclass
class UserProfile:
    """Seed §2.1.2 UserProfile + §4.3.1 UserPreferences (genre weights are the learned state)."""

    user_id: str
    favorite_weights: dict[str, float] = field(default_factory=dict)
    disliked_weights: dict[str, float] = field(default_factory=dict)
    ratings: dict[str, float] = field(default_factory=dict)
    watch_time: dict[str, float] = field(default_factory=dict)  # content id -> minutes
    preferred_rating: list[str] = field(default_factory=list)
    preferred_duration: dict[str, int] = field(default_factory=lambda: {"min": 0, "max": 240})
    preferred_languages: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    preferred_platforms: list[str] = field(default_factory=list)
    hidden_platforms: list[str] = field(default_factory=list)
    privacy: dict[str, bool] = field(default_factory=lambda: {"collectWatchHistory": True, "shareWithFriends": False,
                                                              "allowRecommendations": True})
    embedding: list[float] | None = None
    last_updated: float = 0.0
    last_active: float = 0.0

    @property
    def favorite_genres(self) -> list[str]:
        """Top 5 genres by learned weight (seed §4.3.1 favoriteGenres)."""
        return [g for g, _ in sorted(self.favorite_weights.items(), key=lambda t: (-t[1], t[0]))[:5]]

    @property
    def disliked_genres(self) -> list[str]:
        return [g for g, _ in sorted(self.disliked_weights.items(), key=lambda t: (-t[1], t[0]))[:5]]


def update_genre_weights(weights: dict[str, float], genres: Iterable[str], rate: float) -> dict[str, float]:
    """Move each genre's weight `rate` of the way to 1 (a `rate` relative increase that saturates at 1)."""
    out = dict(weights)
    for g in genres:
        w = out.get(g, 0.0)
        out[g] = w + rate * (1.0 - w)
    return out


class UserStore:
    def __init__(self, root: str | Path, cipher: Cipher, content: ContentStore | None = None,
                 snapshot_dir: str = "snapshots", max_snapshots: int = 168, max_age_s: float = 7 * 86400,
                 on_change: list[Callable[[str], Any]] | None = None):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.cipher, self.content = cipher, content
        self.snapshots = SnapshotDir(resolve_inside(self.root, snapshot_dir), "users")
        self.max_snapshots, self.max_age_s = max_snapshots, max_age_s
        self.on_change = list(on_change or [])
        self.db_path = self.root / "users.db"
        self.conn = connect(self.db_path)
        self.conn.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._centroids: tuple[int, dict[str, np.ndarray]] | None = None
        row = self.conn.execute("SELECT value FROM meta WHERE key='pepper'").fetchone()
        if row is None:
            self.pepper = secrets.token_bytes(32)
            self.conn.execute("INSERT INTO meta VALUES ('pepper', ?)", (cipher.encrypt(self.pepper, b"pepper"),))
        else:
            self.pepper = cipher.decrypt(row[0], b"pepper")  # WrongKeyError here with a wrong key

    # ------------------------------------------------------------------ keys
    def uid(self, user_id: str) -> str:
        import hashlib
        import hmac

        if not isinstance(user_id, str) or not user_id:
            raise DataError("user id must be a non-empty string")
        return "u_" + hmac.new(self.pepper, user_id.encode(), hashlib.sha256).hexdigest()[:32]

    pseudonym = uid  # the query log uses the same keyed pseudonym

    # ------------------------------------------------------------------ profiles
    def get(self, user_id: str) -> UserProfile:
        uid = self.uid(user_id)
        row = self.conn.execute("SELECT blob FROM profiles WHERE uid=?", (uid,)).fetchone()
        if row is None:
            raise UnknownIdError(f"unknown user {user_id!r}")
        return UserProfile(**json.loads(self.cipher.decrypt(row[0], uid.encode())))

    def get_or_create(self, user_id: str) -> UserProfile:
        try:
            return self.get(user_id)
        except UnknownIdError:
            return UserProfile(user_id=user_id)

    def put(self, profile: UserProfile) -> None:
        uid = self.uid(profile.user_id)
        profile.last_updated = time.time()
        blob = self.cipher.encrypt(json.dumps(asdict(profile)).encode(), uid.encode())
        with self._lock:
            self.conn.execute("INSERT OR REPLACE INTO profiles VALUES (?, ?, ?)", (uid, blob, profile.last_updated))
        self._changed(profile.user_id)

    def users(self) -> list[str]:
        return sorted(UserProfile(**json.loads(self.cipher.decrypt(b, u.encode()))).user_id
                      for u, b in self.conn.execute("SELECT uid, blob FROM profiles"))

    def _changed(self, user_id: str) -> None:
        for hook in self.on_change:
            hook(user_id)

    # ------------------------------------------------------------------ learning (seed §4.3.2)
    def record(self, user_id: str, entity_id: str, event: str, rating: float | None = None,
               minutes: float | None = None, ts: float | None = None) -> UserProfile:
        """Apply one interaction: update genre weights, history, recompute the embedding, invalidate caches."""
        if event not in ("watch", "skip", "rate"):
            raise DataError(f"unknown event {event!r} (watch | skip | rate)")
        if event == "rate" and (rating is None or not 0 <= rating <= 5):
            raise DataError("rate events need a rating in 0..5")
        if self.content is None:
            raise DataError("preference learning needs the content store")
        genres = self.content.get(entity_id).get("genres", [])  # UnknownIdError for unknown content
        ts = time.time() if ts is None else ts
        p = self.get_or_create(user_id)
        if event == "watch":
            p.favorite_weights = update_genre_weights(p.favorite_weights, genres, WATCH_BOOST)
            if minutes:
                p.watch_time[entity_id] = p.watch_time.get(entity_id, 0.0) + float(minutes)
        elif event == "skip":
            p.disliked_weights = update_genre_weights(p.disliked_weights, genres, SKIP_BOOST)
        else:
            p.ratings[entity_id] = float(rating)
            if rating >= 4:
                p.favorite_weights = update_genre_weights(p.favorite_weights, genres, HIGH_RATING_BOOST)
        p.last_active = ts
        p.embedding = self.preference_embedding(p)
        if p.privacy.get("collectWatchHistory", True):
            uid = self.uid(user_id)
            ev = {"entity_id": entity_id, "event": event, "rating": rating, "minutes": minutes}
            with self._lock:
                self.conn.execute("INSERT INTO history VALUES (?, ?, ?)",
                                  (uid, ts, self.cipher.encrypt(json.dumps(ev).encode(), uid.encode())))
        self.put(p)
        return p

    def genre_centroids(self) -> dict[str, np.ndarray]:
        """Unit mean embedding per genre, cached per content version."""
        v = self.content.version
        if self._centroids is None or self._centroids[0] != v:
            ids, genres, vecs = self.content.genre_vectors()
            acc: dict[str, list[int]] = {}
            for i, gs in enumerate(genres):
                for g in gs:
                    acc.setdefault(g, []).append(i)
            cents = {}
            for g, rows in acc.items():
                c = vecs[rows].mean(axis=0)
                cents[g] = c / max(np.linalg.norm(c), 1e-12)
            self._centroids = (v, cents)
        return self._centroids[1]

    def preference_embedding(self, p: UserProfile) -> list[float] | None:
        """Σ_g (favorite_g − disliked_g) · centroid_g, normalised; None until there is a signal."""
        cents = self.genre_centroids()
        total = None
        for g in set(p.favorite_weights) | set(p.disliked_weights):
            w = p.favorite_weights.get(g, 0.0) - p.disliked_weights.get(g, 0.0)
            if g in cents and w:
                total = w * cents[g] if total is None else total + w * cents[g]
        if total is None or np.linalg.norm(total) < 1e-9:
            return None
        return (total / np.linalg.norm(total)).astype(np.float32).tolist()

    # ------------------------------------------------------------------ history (time series)
    def history(self, user_id: str, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        uid = self.uid(user_id)
        rows = self.conn.execute("SELECT ts, blob FROM history WHERE uid=? AND ts>=? AND ts<? ORDER BY ts",
                                 (uid, start or 0.0, end or float("inf"))).fetchall()
        return [{"ts": ts, **json.loads(self.cipher.decrypt(b, uid.encode()))} for ts, b in rows]

    def expire_history(self, max_age_days: float, now: float | None = None) -> int:
        """Seed §4.3.3 dataRetention.watchHistory."""
        cutoff = (time.time() if now is None else now) - max_age_days * 86400
        with self._lock:
            return self.conn.execute("DELETE FROM history WHERE ts < ?", (cutoff,)).rowcount

    # ------------------------------------------------------------------ key rotation
    def rotate_key(self, new_cipher: Cipher) -> dict[str, int]:
        """Re-encrypt every profile, history row, the pepper and every retained user snapshot under `new_cipher`,
        in one transaction per file (a crash leaves each file wholly under the old or the new key)."""
        old = self.cipher
        with self._lock:
            n = _reencrypt(self.conn, old, new_cipher)
            self.cipher = new_cipher
        snaps = 0
        for snap in self.snapshots.valid():
            self.snapshots.rewrite(snap, lambda tmp: _reencrypt_file(tmp, old, new_cipher))
            snaps += 1
        return {"rows": n, "snapshots": snaps}

    # ------------------------------------------------------------------ snapshots & forgetting
    def snapshot(self, now: float | None = None) -> Snapshot:
        def fill(tmp: Path) -> dict[str, Any]:
            dst = sqlite3.connect(str(tmp))
            with self._lock:
                self.conn.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.close()
            return {"count": self.conn.execute("SELECT COUNT(*) FROM profiles").fetchone()[0],
                    "key_id": self.cipher.key_id.hex()}

        snap = self.snapshots.write(fill, now=now)
        self.snapshots.prune(self.max_snapshots, self.max_age_s, now=now)
        return snap

    def forget(self, user_id: str) -> dict[str, int]:
        """Delete the user's profile and history here and in every retained user snapshot (rewritten)."""
        uid = self.uid(user_id)
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            p = self.conn.execute("DELETE FROM profiles WHERE uid=?", (uid,)).rowcount
            h = self.conn.execute("DELETE FROM history WHERE uid=?", (uid,)).rowcount
            self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rewritten = 0
        for snap in self.snapshots.valid() + self.snapshots.unverified():  # unverified: file edited, meta as is
            if snapshot_rows(snap.path, uid):
                self.snapshots.rewrite(snap, lambda tmp: _delete_uid(tmp, uid))
                rewritten += 1
        self._changed(user_id)
        return {"profiles": p, "history": h, "snapshots_rewritten": rewritten}

    def close(self) -> None:
        self.conn.close()


def _reencrypt(conn: sqlite3.Connection, old: Cipher, new: Cipher) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        n = 0
        pep = conn.execute("SELECT value FROM meta WHERE key='pepper'").fetchone()[0]
        conn.execute("UPDATE meta SET value=? WHERE key='pepper'", (new.encrypt(old.decrypt(pep, b"pepper"), b"pepper"),))
        for uid, blob in conn.execute("SELECT uid, blob FROM profiles").fetchall():
            conn.execute("UPDATE profiles SET blob=? WHERE uid=?", (new.encrypt(old.decrypt(blob, uid.encode()), uid.encode()), uid))
            n += 1
        for rid, uid, blob in conn.execute("SELECT rowid, uid, blob FROM history").fetchall():
            conn.execute("UPDATE history SET blob=? WHERE rowid=?", (new.encrypt(old.decrypt(blob, uid.encode()), uid.encode()), rid))
            n += 1
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return n


def _reencrypt_file(path: Path, old: Cipher, new: Cipher) -> dict[str, Any]:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA secure_delete=ON")
    _reencrypt(conn, old, new)
    conn.execute("VACUUM")
    conn.close()
    return {"key_id": new.key_id.hex()}


def snapshot_rows(path: Path, uid: str) -> int:
    """Profile + history rows of `uid` in a user snapshot file."""
    c = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return c.execute("SELECT (SELECT COUNT(*) FROM profiles WHERE uid=?) + "
                         "(SELECT COUNT(*) FROM history WHERE uid=?)", (uid, uid)).fetchone()[0]
    finally:
        c.close()


def _delete_uid(path: Path, uid: str) -> dict[str, Any]:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("DELETE FROM profiles WHERE uid=?", (uid,))
    conn.execute("DELETE FROM history WHERE uid=?", (uid,))
    count = conn.execute("SELECT COUNT(*) FROM profiles").fetchone()[0]
    conn.execute("VACUUM")
    conn.close()
    return {"count": count}

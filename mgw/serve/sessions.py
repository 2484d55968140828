"""User sessions (seed §4.1.1–4.1.2): the seed's `UserSession` in Redis with a 1-hour inactivity TTL,
checkpointed to SQL (SQLite by default, PostgreSQL by URL), restored Redis → SQL → repopulate Redis; and the
per-session result buffer (seed §3.4.2).

Redis is any redis-py client: a server's (`serve.redis_url`) or the in-process fakeredis of the embedded
default. When Redis fails, sessions are read from SQL and changes are kept for the next checkpoint, so a Redis
outage costs latency, not requests; after Redis returns, `restore` repopulates it from SQL.
Sessions hold user ids, so `SessionHolder` lets `mgw privacy forget` delete them (Redis and SQL)."""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any, Callable

import sqlalchemy as sa
from redis.exceptions import RedisError

from mgw.config import ROOT

log = logging.getLogger(__name__)
PREFIX = "mgw:session:"
BUFFER = "mgw:buffer:"
USER_INDEX = "mgw:user-sessions:"
HISTORY = 10  # seed §4.1.1: last 10 queries
VIEWED = 100
INTERFACES = ("web", "mobile", "tv", "voice")

_meta = sa.MetaData()
TABLE = sa.Table("user_sessions", _meta,
                 sa.Column("session_id", sa.String(64), primary_key=True),
                 sa.Column("user_id", sa.String(128), nullable=False, index=True),
                 sa.Column("doc", sa.Text, nullable=False),
                 sa.Column("last_active", sa.Float, nullable=False))


def sql_engine(url: str) -> sa.Engine:
    """SQLAlchemy engine for `serve.sql_url`: relative SQLite paths are under the repo; SQLite overwrites
    deleted rows (secure_delete) so a forgotten user leaves no bytes behind; postgresql:// uses psycopg 3."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        path = ROOT / url[len("sqlite:///"):]
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _pragmas(conn, _):  # noqa: ANN001
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA busy_timeout=5000")
    _meta.create_all(engine)
    return engine


def new_session(user: str, device: str, interface: str = "web", language: str = "en", region: str = "US",
                now: float | None = None, ttl_s: float = 3600) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {"sessionId": uuid.uuid4().hex, "userId": user, "device": device, "startTime": now, "lastActive": now,
            "expiresAt": now + ttl_s,
            "state": {"currentQuery": "", "searchHistory": [], "viewedContent": [],
                      "filters": {"platforms": [], "genres": [], "rating": None, "priceRange": [0, 0]},
                      "pagination": {"currentPage": 0, "resultsPerPage": 10}},
            "preferences": {"interface": interface, "language": language, "region": region},
            "stateTs": now}


class SessionStore:
    def __init__(self, redis: Any, engine: sa.Engine, ttl_s: float = 3600, clock: Callable[[], float] = time.time):
        self.redis, self.engine, self.ttl_s, self.clock = redis, engine, ttl_s, clock
        self._dirty: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.redis_errors = 0

    # ------------------------------------------------------------------ redis with a fallback
    def _r(self, fn: Callable[[], Any], default: Any = None) -> Any:
        try:
            return fn()
        except (RedisError, OSError) as e:
            self.redis_errors += 1
            log.debug("session redis call failed: %s", e)
            return default

    # ------------------------------------------------------------------ sessions
    def create(self, user: str, device: str, interface: str = "web", language: str = "en",
               region: str = "US") -> dict[str, Any]:
        s = new_session(user, device, interface, language, region, self.clock(), self.ttl_s)
        self.save(s)
        return s

    def save(self, s: dict[str, Any]) -> None:
        now = self.clock()
        s["lastActive"], s["expiresAt"] = now, now + self.ttl_s
        doc = json.dumps(s)
        ttl = max(1, int(self.ttl_s))

        def write() -> None:
            pipe = self.redis.pipeline()
            pipe.set(PREFIX + s["sessionId"], doc, ex=ttl)
            pipe.sadd(USER_INDEX + s["userId"], s["sessionId"])
            pipe.expire(USER_INDEX + s["userId"], ttl)
            pipe.execute()
        self._r(write)
        with self._lock:
            self._dirty[s["sessionId"]] = s

    def restore(self, sid: str) -> dict[str, Any] | None:
        """Seed §4.1.2 restoreSession: Redis, else SQL (then written back to Redis), else None."""
        raw = self._r(lambda: self.redis.get(PREFIX + sid))
        if raw is not None:
            return json.loads(raw)
        with self._lock:
            pending = self._dirty.get(sid)
        if pending is not None:  # changed while Redis was away, not checkpointed yet
            return json.loads(json.dumps(pending))
        with self.engine.connect() as c:
            row = c.execute(sa.select(TABLE.c.doc).where(TABLE.c.session_id == sid)).fetchone()
        if row is None:
            return None
        s = json.loads(row[0])  # the seed expires Redis only; the SQL copy is the durable record
        ttl = max(1, int(self.ttl_s))
        self._r(lambda: (self.redis.set(PREFIX + sid, row[0], ex=ttl),
                         self.redis.sadd(USER_INDEX + s["userId"], sid)))
        return s

    def sessions_of(self, user: str) -> list[str]:
        ids = self._r(lambda: self.redis.smembers(USER_INDEX + user), set()) or set()
        return sorted(i.decode() if isinstance(i, bytes) else i for i in ids)

    def checkpoint(self) -> int:
        """Write every session changed since the last checkpoint to SQL (one transaction)."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        if not dirty:
            return 0
        try:
            with self.engine.begin() as c:
                c.execute(TABLE.delete().where(TABLE.c.session_id.in_(list(dirty))))
                c.execute(TABLE.insert(), [{"session_id": sid, "user_id": s["userId"], "doc": json.dumps(s),
                                            "last_active": s["lastActive"]} for sid, s in dirty.items()])
        except sa.exc.SQLAlchemyError:
            with self._lock:  # keep them for the next try
                for sid, s in dirty.items():
                    self._dirty.setdefault(sid, s)
            raise
        return len(dirty)

    # ------------------------------------------------------------------ result buffer (seed §3.4.2)
    def buffer_get(self, sid: str) -> dict[str, Any] | None:
        raw = self._r(lambda: self.redis.get(BUFFER + sid))
        return json.loads(raw) if raw is not None else None

    def buffer_put(self, sid: str, buf: dict[str, Any]) -> None:
        self._r(lambda: self.redis.set(BUFFER + sid, json.dumps(buf), ex=max(1, int(self.ttl_s))))

    def drop_buffers(self, user: str) -> int:
        sids = self.sessions_of(user)
        if not sids:
            return 0
        return int(self._r(lambda: self.redis.delete(*[BUFFER + s for s in sids]), 0) or 0)

    # ------------------------------------------------------------------ right to be forgotten
    def find_user(self, user: str) -> list[str]:
        out = [f"redis session {s}" for s in self.sessions_of(user)]
        with self.engine.connect() as c:
            n = c.execute(sa.select(sa.func.count()).select_from(TABLE).where(TABLE.c.user_id == user)).scalar()
        return out + ([f"sql user_sessions: {n} rows"] if n else [])

    def forget_user(self, user: str) -> int:
        sids = self.sessions_of(user)
        n = 0
        if sids:
            n += int(self._r(lambda: self.redis.delete(*[PREFIX + s for s in sids], *[BUFFER + s for s in sids]),
                             0) or 0)
        self._r(lambda: self.redis.delete(USER_INDEX + user))
        with self._lock:
            for sid in [k for k, s in self._dirty.items() if s["userId"] == user]:
                del self._dirty[sid]
        with self.engine.begin() as c:
            n += c.execute(TABLE.delete().where(TABLE.c.user_id == user)).rowcount or 0
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as c:  # the journal must not keep the deleted pages either
                c.exec_driver_sql("VACUUM")
        return n


def redis_client(url: str | None) -> Any:
    """A redis-py client for `url`, or an in-process fakeredis server (the embedded default)."""
    if url:
        import redis

        return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=5)
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


class SessionHolder:
    """`mgw privacy forget` holder: the user's sessions in SQL and (when configured) Redis."""

    name = "serving sessions (redis + sql checkpoints)"

    def __init__(self, store: SessionStore):
        self.store = store

    @classmethod
    def from_params(cls, params: Any) -> "SessionHolder | None":
        url = params.serve.sql_url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            if not (ROOT / url[len("sqlite:///"):]).exists():
                return None  # the server never ran here
        redis = redis_client(params.serve.redis_url)
        return cls(SessionStore(redis, sql_engine(url), params.serve.session_ttl_s))

    def find(self, user: str) -> list[str]:
        return self.store.find_user(user)

    def forget(self, user: str) -> int:
        return self.store.forget_user(user)

"""Everything one server process holds, and the request logic the HTTP layer calls: model choice by rollout
flag, the cached search behind it, the session's result buffer and state, events, and background tasks
(session checkpoints, event flushes, cross-device sync)."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgw.errors import DataError, UnknownIdError
from mgw.search.cached import CachedSearch
from mgw.search.pipeline import SearchPipeline
from mgw.serve.auth import RateLimiter, TokenAuth, secret_from_env
from mgw.serve.events import EventBuffer
from mgw.serve.flags import Flags
from mgw.serve.metrics import ServeMetrics
from mgw.serve.personal import CatalogContent, PreferenceReranker
from mgw.serve.sessions import HISTORY, INTERFACES, VIEWED, SessionStore, redis_client, sql_engine
from mgw.serve.sync import DeviceSync

log = logging.getLogger(__name__)
DEFAULT_MODEL = "default"


class SessionNotFound(UnknownIdError):
    """A session id that does not exist (or belongs to another user): HTTP 404."""


@dataclass
class Service:
    params: Any
    searchers: dict[str, CachedSearch]
    flags: Flags
    sessions: SessionStore
    sync: DeviceSync
    events: EventBuffer
    users: Any
    auth: TokenAuth
    limiter: RateLimiter
    metrics: ServeMetrics
    personal: list[PreferenceReranker]
    content_ids: set[str]
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, params: Any, pipeline: SearchPipeline | None = None, models: dict[str, Any] | None = None,
              store_root: str | Path | None = None, redis: Any = None, secret: str | None = None) -> "Service":
        """`pipeline`: the search pipeline (default: `build_pipeline(params)`, or the demo catalog when
        `serve.demo_titles` > 0); `models`: variant name → reranker (default: the utility score, plus the
        registry's GAT as variant `gat` when one is registered)."""
        from mgw.search.rerankers import GatAdapter, UtilityReranker, production_reranker

        sp = params.serve
        if pipeline is None:
            if sp.demo_titles:
                from mgw.serve.demo import demo_pipeline

                pipeline = demo_pipeline(params, sp.demo_titles)
            else:
                from mgw.search.build import build_pipeline

                pipeline = build_pipeline(params)
        if models is None:
            models = {DEFAULT_MODEL: UtilityReranker(pipeline.store)}
            prod = pipeline.reranker if isinstance(pipeline.reranker, GatAdapter) else None
            if prod is None and pipeline.reranker is not None and not isinstance(pipeline.reranker, UtilityReranker):
                prod = pipeline.reranker
            if prod is None and not sp.demo_titles:
                r = production_reranker(params, pipeline.store)
                prod = r if isinstance(r, GatAdapter) else None
            if prod is not None:
                models["gat"] = prod
        if DEFAULT_MODEL not in models:
            raise DataError(f"models must include {DEFAULT_MODEL!r}")
        genres_of = {eid: f.genres for eid, f in pipeline.fragments.by_id.items()}
        users = _user_store(params, store_root, CatalogContent(genres_of, pipeline.embed))
        personal, searchers = [], {}
        for name, reranker in models.items():
            pr = PreferenceReranker(reranker, genres_of, users.get)
            personal.append(pr)
            searchers[name] = CachedSearch(pipeline.replace(reranker=pr), params.cache)
        sessions = SessionStore(redis if redis is not None else redis_client(sp.redis_url), sql_engine(sp.sql_url),
                                sp.session_ttl_s)
        metrics = ServeMetrics(lambda: [(n, s.cache) for n, s in searchers.items()])
        svc = cls(params, searchers, Flags(sp.rollout, sp.rollout_salt), sessions,
                  DeviceSync(sessions, sp.sync_policy, sp.sync_debounce_s), None, users,  # type: ignore[arg-type]
                  TokenAuth(secret or secret_from_env(sp.jwt_secret_env), sp.jwt_ttl_s),
                  RateLimiter(sp.rate_per_s, sp.rate_burst), metrics, personal, set(genres_of))
        svc.events = EventBuffer(users.record, svc.invalidate_user, sp.events_batch, sp.events_interval_s,
                                 known=svc.content_ids.__contains__)
        for pr in personal:
            users.on_change.append(pr.changed)
        return svc

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.events.start()
        self.sync.start()
        t = threading.Thread(target=self._checkpoint_loop, name="mgw-session-checkpoint", daemon=True)
        t.start()
        self._threads.append(t)

    def _checkpoint_loop(self) -> None:
        while not self._stop.wait(self.params.serve.checkpoint_s):
            try:
                self.sessions.checkpoint()
            except Exception as e:  # SQL away: the sessions stay dirty for the next try
                log.warning("session checkpoint failed: %s", e)

    def stop(self) -> None:
        self._stop.set()
        self.events.stop()
        self.sync.flush()
        self.sync.stop()
        try:
            self.sessions.checkpoint()
        except Exception as e:
            log.warning("final session checkpoint failed: %s", e)
        for s in self.searchers.values():
            s.cache.drain()

    # ------------------------------------------------------------------ models and caches
    def model_for(self, user: str | None) -> str:
        for name in sorted(self.searchers):
            if name != DEFAULT_MODEL and self.flags.enabled(name, user):
                return name
        return DEFAULT_MODEL

    def invalidate_user(self, user: str) -> int:
        """After the user's preferences changed: their cache entries and session buffers go."""
        n = sum(s.cache.forget_user(user) for s in self.searchers.values())
        return n + self.sessions.drop_buffers(user)

    def forget_user(self, user: str) -> int:
        return self.invalidate_user(user) + self.sessions.forget_user(user)

    # ------------------------------------------------------------------ sessions
    def session(self, user: str, sid: str) -> dict[str, Any]:
        s = self.sessions.restore(sid)
        if s is None or s["userId"] != user:
            raise SessionNotFound(f"no session {sid!r} for this user")
        return s

    def create_session(self, user: str, device: str, interface: str, language: str, region: str) -> dict[str, Any]:
        if interface not in INTERFACES:
            raise DataError(f"interface must be one of {', '.join(INTERFACES)}")
        return self.sessions.create(user, device, interface, language, region)

    def update_session(self, user: str, sid: str, changes: dict[str, Any]) -> dict[str, Any]:
        s = self.session(user, sid)
        st = s["state"]
        if changes.get("filters") is not None:
            st["filters"].update({k: v for k, v in changes["filters"].items() if v is not None})
        if changes.get("viewedContent"):
            st["viewedContent"] = _recent(changes["viewedContent"] + st["viewedContent"], VIEWED)
        if changes.get("preferences"):
            s["preferences"].update({k: v for k, v in changes["preferences"].items() if v is not None})
        if changes.get("currentQuery") is not None:
            st["currentQuery"] = changes["currentQuery"]
        s["stateTs"] = time.time()
        self.sessions.save(s)
        self.sync.changed(s)
        return s

    # ------------------------------------------------------------------ search
    def search(self, user: str, query: str, limit: int, offset: int, debug: bool = False,
               sid: str | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        model = self.model_for(user)
        searcher = self.searchers[model]
        session = self.session(user, sid) if sid else None
        resp = self._from_buffer(session, model, query, limit, offset) if session else None
        if resp is None:
            depth = self.params.serve.prefetch_depth if session else 0
            resp = searcher.search(query, user=user, k=limit * (1 + depth), offset=offset, explain=debug)
            resp["metadata"]["from_buffer"] = False
            if session:
                self.sessions.buffer_put(session["sessionId"], {
                    "query": query, "model": model, "start": offset, "results": resp["results"],
                    "total": resp["pagination"]["total"], "filters": resp["filters"],
                    "model_version": resp["metadata"]["model"]})
            resp["results"] = resp["results"][:limit]
            resp["pagination"]["limit"] = limit
        if session:
            self._remember(session, query, resp["filters"], limit, offset)
        md = resp["metadata"]
        md["latency_ms"] = round((time.perf_counter() - t0) * 1e3, 3)
        md.update(latency=md["latency_ms"], fromCache=md["from_cache"], variant=model,
                  flags=self.flags.for_user(user), session=sid)
        return resp

    def _from_buffer(self, session: dict[str, Any], model: str, query: str, limit: int,
                     offset: int) -> dict[str, Any] | None:
        buf = self.sessions.buffer_get(session["sessionId"])
        if not buf or buf["query"] != query or buf["model"] != model:
            return None
        start, results, total = buf["start"], buf["results"], buf["total"]
        end = start + len(results)
        if offset < start or (offset + limit > end and end < total):
            return None
        page = results[offset - start: offset - start + limit]
        return {"query": query, "filters": buf["filters"], "results": page,
                "pagination": {"offset": offset, "limit": limit, "total": total},
                "metadata": {"latency_ms": 0.0, "from_cache": True, "cache_level": "buffer", "from_buffer": True,
                             "model": buf["model_version"]}}

    def _remember(self, s: dict[str, Any], query: str, parsed: dict[str, Any], limit: int, offset: int) -> None:
        st = s["state"]
        st["currentQuery"] = query
        st["searchHistory"] = _recent([query] + st["searchHistory"], HISTORY)
        st["pagination"] = {"currentPage": offset // limit, "resultsPerPage": limit}
        st["filters"]["platforms"] = list(parsed.get("platforms", {}).get("any", []) or [])
        st["filters"]["genres"] = list(parsed.get("genres", {}).get("all", []) or [])
        s["stateTs"] = time.time()
        self.sessions.save(s)
        self.sync.changed(s)


def _recent(items: list, cap: int) -> list:
    seen, out = set(), []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out[:cap]


def _user_store(params: Any, root: str | Path | None, content: CatalogContent):
    """The user store of `store.root` (or `root`); a key file is created on first start (embedded default)."""
    from mgw.store.crypto import Cipher, MissingKeyError, load_key, write_key_file
    from mgw.store.stores import key_path, store_root
    from mgw.store.users import UserStore

    base = Path(root) if root is not None else store_root(params)
    kp = key_path(params) if root is None else base / "user.key"
    try:
        key = load_key(kp, params.store.key_env)
    except MissingKeyError:
        if kp is None:
            raise
        write_key_file(kp)
        key = load_key(kp, params.store.key_env)
    return UserStore(base / "users", Cipher(key), content, snapshot_dir=params.store.snapshot_dir)

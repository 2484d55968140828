"""Serving state: sessions restored Redis → SQL → Redis (in-process Redis and a real redis-server; SQLite and a
real PostgreSQL), cross-device sync between two devices (last-write-wins and debounced merge), the sessions'
right to be forgotten, and a client that disconnects mid-stream."""
from __future__ import annotations

import json
import time

import fakeredis
import httpx
import pytest

from mgw.serve.sessions import SessionStore, sql_engine
from mgw.serve.sync import DeviceSync, lww, merge
from redis_server import redis_url  # noqa: F401  (session-scoped real redis-server)
from test_tune_postgres import postgres_url  # noqa: F401  (module-scoped throw-away PostgreSQL)


def fake():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def check_restore_order(store: SessionStore) -> None:
    s = store.create("alice", "phone", "mobile")
    sid = s["sessionId"]
    s["state"]["currentQuery"] = "noir on hulu"
    store.save(s)
    assert store.restore(sid)["state"]["currentQuery"] == "noir on hulu"  # from Redis
    assert store.checkpoint() == 1 and store.checkpoint() == 0
    store.redis.delete(f"mgw:session:{sid}")  # Redis lost it (expiry, restart)
    assert store.redis.get(f"mgw:session:{sid}") is None
    back = store.restore(sid)  # from SQL ...
    assert back["state"]["currentQuery"] == "noir on hulu" and back["userId"] == "alice"
    assert json.loads(store.redis.get(f"mgw:session:{sid}"))["sessionId"] == sid  # ... and Redis repopulated
    assert 0 < store.redis.ttl(f"mgw:session:{sid}") <= 3600
    assert store.restore("0" * 32) is None
    assert store.find_user("alice") and store.forget_user("alice") >= 2
    assert store.find_user("alice") == [] and store.restore(sid) is None


def test_sessions_inprocess_redis_and_sqlite(tmp_path):
    check_restore_order(SessionStore(fake(), sql_engine(f"sqlite:///{tmp_path / 's.db'}")))


@pytest.mark.redis
def test_sessions_real_redis_and_sqlite(tmp_path, redis_url):  # noqa: F811
    import redis

    r = redis.Redis.from_url(redis_url)
    check_restore_order(SessionStore(r, sql_engine(f"sqlite:///{tmp_path / 's.db'}")))


@pytest.mark.postgres
def test_sessions_real_redis_and_postgresql(redis_url, postgres_url):  # noqa: F811
    import redis

    check_restore_order(SessionStore(redis.Redis.from_url(redis_url), sql_engine(postgres_url)))


def test_sessions_survive_a_redis_outage(tmp_path):
    """Redis down: reads fall back to SQL and to unsaved changes; after Redis returns, SQL repopulates it."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    server = fakeredis.FakeServer()
    r = fakeredis.FakeRedis(server=server)
    store = SessionStore(r, sql_engine(f"sqlite:///{tmp_path / 's.db'}"))
    sid = store.create("bob", "tv", "tv")["sessionId"]
    store.checkpoint()
    server.connected = False  # fakeredis: every call now raises ConnectionError
    with pytest.raises(RedisConnectionError):
        r.ping()
    s = store.restore(sid)
    assert s is not None and store.redis_errors >= 1
    s["state"]["currentQuery"] = "during the outage"
    store.save(s)  # kept for the checkpoint
    assert store.restore(sid)["state"]["currentQuery"] == "during the outage"
    assert store.checkpoint() == 1
    server.connected = True
    r.flushall()  # Redis came back empty
    assert store.restore(sid)["state"]["currentQuery"] == "during the outage"
    assert r.get(f"mgw:session:{sid}") is not None


# ------------------------------------------------------------------ cross-device sync (seed §4.1.3)
def session(device, ts, query, history, viewed):
    return {"sessionId": device, "device": device, "userId": "u", "stateTs": ts,
            "state": {"currentQuery": query, "searchHistory": history, "viewedContent": viewed,
                      "filters": {"platforms": [], "genres": [], "rating": None, "priceRange": [0, 0]},
                      "pagination": {"currentPage": 0, "resultsPerPage": 10}}}


def test_conflict_rules():
    a = session("phone", 10.0, "a", ["a", "x"], ["t1"])
    b = session("tv", 11.0, "b", ["b", "y"], ["t2"])
    assert lww(a, b)["state"]["currentQuery"] == "b" and lww(a, b)["state"]["searchHistory"] == ["b", "y"]
    assert lww(b, a)["state"]["currentQuery"] == "b"  # the older write never wins
    m1, m2 = merge(a, b), merge(b, a)
    assert m1["state"] == m2["state"]  # merge is order-independent: both devices converge
    assert m1["state"]["currentQuery"] == "b" and m1["state"]["searchHistory"] == ["b", "y", "a", "x"]
    assert set(m1["state"]["viewedContent"]) == {"t1", "t2"}
    tie_a, tie_b = session("phone", 5.0, "p", [], []), session("tv", 5.0, "t", [], [])
    assert lww(tie_a, tie_b)["state"]["currentQuery"] == lww(tie_b, tie_a)["state"]["currentQuery"] == "t"


def two_devices(redis, tmp_path, policy, debounce_s=0.0):
    """Two server processes' worth of state on one Redis: each device's DeviceSync publishes and applies."""
    engine = sql_engine(f"sqlite:///{tmp_path / f'{policy}.db'}")
    store = SessionStore(redis, engine)
    phone, tv = store.create("u", "phone", "mobile"), store.create("u", "tv", "tv")
    syncs = [DeviceSync(SessionStore(redis, engine), policy, debounce_s) for _ in range(2)]
    for s in syncs:
        s.start()
    return store, phone, tv, syncs


def wait_for(cond, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def change(store, sync, s, query, ts):
    s = store.restore(s["sessionId"])
    s["state"]["currentQuery"] = query
    s["state"]["searchHistory"] = [query] + s["state"]["searchHistory"]
    s["stateTs"] = ts
    store.save(s)
    sync.changed(s)


def run_sync(redis, tmp_path):
    t0 = time.time() + 10  # later than the sessions' creation
    store, phone, tv, (s_phone, s_tv) = two_devices(redis, tmp_path, "immediate")
    try:
        change(store, s_phone, phone, "westerns", t0 + 100)
        assert wait_for(lambda: store.restore(tv["sessionId"])["state"]["currentQuery"] == "westerns")
        change(store, s_tv, tv, "old write", t0 + 50)  # a stale device writes: last-write-wins keeps the newer
        time.sleep(0.3)
        assert store.restore(phone["sessionId"])["state"]["currentQuery"] == "westerns"
    finally:
        for s in (s_phone, s_tv):
            s.stop()
    store, phone, tv, (s_phone, s_tv) = two_devices(redis, tmp_path, "debounced", debounce_s=0.3)
    try:
        change(store, s_phone, phone, "q1", t0 + 200)
        change(store, s_phone, phone, "q2", t0 + 201)  # within the window: one publication
        change(store, s_tv, tv, "q3", t0 + 202)
        time.sleep(0.1)
        assert store.restore(tv["sessionId"])["state"]["currentQuery"] == "q3"  # nothing published yet
        assert wait_for(lambda: all(store.restore(x["sessionId"])["state"]["searchHistory"][:3] == ["q3", "q2", "q1"]
                                    for x in (phone, tv)))
        assert store.restore(phone["sessionId"])["state"]["currentQuery"] == "q3"
    finally:
        for s in (s_phone, s_tv):
            s.stop()


def test_two_devices_converge_inprocess_redis(tmp_path):
    run_sync(fake(), tmp_path)


@pytest.mark.redis
def test_two_devices_converge_real_redis(tmp_path, redis_url):  # noqa: F811
    import redis

    run_sync(redis.Redis.from_url(redis_url), tmp_path)


# ------------------------------------------------------------------ forget (seed §6.2)
def test_privacy_forget_removes_sessions(tmp_path, monkeypatch):
    from mgw.config import load_params
    from mgw.serve.sessions import SessionHolder
    from mgw.store import forget as fg

    params = load_params(overrides={"serve": {"sql_url": f"sqlite:///{tmp_path / 's.db'}"}}, environ={})
    store = SessionStore(fake(), sql_engine(params.serve.sql_url))
    for dev in ("phone", "tv"):
        store.create("zoe-4711", dev)
    store.create("yan", "tv")
    store.checkpoint()
    monkeypatch.setattr(fg, "HOLDERS", [])
    import argparse

    from mgw.serve import commands

    commands.register(argparse.ArgumentParser().add_subparsers())  # the CLI registers the holder
    assert len(fg.HOLDERS) == 1
    holder = fg.HOLDERS[0](fg.ForgetContext(params, None))  # type: ignore[arg-type]
    assert isinstance(holder, SessionHolder) and holder.find("zoe-4711") == ["sql user_sessions: 2 rows"]
    assert holder.forget("zoe-4711") == 2 and holder.find("zoe-4711") == []
    assert holder.find("yan")
    assert b"zoe-4711" not in (tmp_path / "s.db").read_bytes()  # secure_delete + vacuum: no bytes left


# ------------------------------------------------------------------ disconnects
def test_client_disconnect_mid_stream_is_not_a_server_error(tmp_path):
    from mgw.serve.app import create_app
    from serve_helpers import build_service, live_server

    svc = build_service(tmp_path, demo_titles=200)
    app = create_app(svc)
    with live_server(app) as base:
        h = {"Authorization": f"Bearer {svc.auth.issue('u')}"}
        for _ in range(5):
            with httpx.stream("GET", f"{base}/api/search/stream", params={"q": "drama", "delay_ms": 300},
                              headers=h, timeout=10) as r:
                for line in r.iter_lines():
                    if line.startswith("event: result"):
                        break  # leave mid-stream
        assert wait_for(lambda: svc.metrics.sse._value.get() == 0, 10)
        assert httpx.get(f"{base}/health").status_code == 200
        errors = [s for s in svc.metrics.requests.collect()[0].samples
                  if s.name.endswith("_total") and s.labels["status"].startswith("5")]
        assert errors == []

"""Cross-device sync (seed §4.1.3): a device's session change is published on Redis pub/sub and the user's
other sessions apply it by policy.

- `immediate` + last-write-wins: published at once; a receiver takes the synced fields when the message is
  newer than its own state (ties broken by device name, so every device converges on the same state).
- `debounced` + merge: a device's changes are published after `debounce_s` without further changes; receivers
  merge: histories and viewed content are unions ordered by time (most recent first, capped), the current
  query and filters follow last-write-wins.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

from mgw.serve.sessions import HISTORY, VIEWED, SessionStore

log = logging.getLogger(__name__)
CHANNEL = "mgw:user-state-changed"
SYNCED = ("currentQuery", "searchHistory", "viewedContent", "filters")


def _newer(a_ts: float, a_dev: str, b_ts: float, b_dev: str) -> bool:
    return (a_ts, a_dev) > (b_ts, b_dev)


def lww(local: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any]:
    """Last write wins: the remote synced fields replace the local ones if the remote write is newer."""
    out = json.loads(json.dumps(local))
    if _newer(remote["stateTs"], remote["device"], local["stateTs"], local["device"]):
        for f in SYNCED:
            out["state"][f] = json.loads(json.dumps(remote["state"][f]))
        out["stateTs"] = remote["stateTs"]
    return out


def _union_recent(a: list, b: list, cap: int, newest_first_a: bool) -> list:
    first, second = (a, b) if newest_first_a else (b, a)
    seen, out = set(), []
    for x in first + second:
        key = json.dumps(x, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out[:cap]


def merge(local: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any]:
    """Merge: lists are unions (the newer side's items first), scalars and filters last-write-wins."""
    out = json.loads(json.dumps(local))
    remote_newer = _newer(remote["stateTs"], remote["device"], local["stateTs"], local["device"])
    ls, rs = local["state"], remote["state"]
    out["state"]["searchHistory"] = _union_recent(rs["searchHistory"], ls["searchHistory"], HISTORY, remote_newer)
    out["state"]["viewedContent"] = _union_recent(rs["viewedContent"], ls["viewedContent"], VIEWED, remote_newer)
    if remote_newer:
        out["state"]["currentQuery"] = rs["currentQuery"]
        out["state"]["filters"] = json.loads(json.dumps(rs["filters"]))
        out["stateTs"] = remote["stateTs"]
    return out


POLICIES: dict[str, Callable[[dict, dict], dict]] = {"immediate": lww, "debounced": merge}


class DeviceSync:
    """Publishes this process's session changes and applies other devices' changes to the user's sessions."""

    def __init__(self, sessions: SessionStore, policy: str = "immediate", debounce_s: float = 5.0):
        if policy not in POLICIES:
            raise ValueError(f"sync policy must be one of {sorted(POLICIES)}, got {policy!r}")
        self.sessions, self.policy, self.debounce_s = sessions, policy, debounce_s
        self.resolve = POLICIES[policy]
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pubsub = None
        self.applied = 0

    # ------------------------------------------------------------------ publishing
    def changed(self, session: dict[str, Any]) -> None:
        """Call after a device changed its session: publish now (immediate) or after the debounce window."""
        if self.policy == "immediate" or self.debounce_s <= 0:
            self._publish(session["sessionId"])
            return
        sid = session["sessionId"]
        with self._lock:
            old = self._timers.pop(sid, None)
            if old is not None:
                old.cancel()
            t = threading.Timer(self.debounce_s, self._publish, args=(sid,))
            t.daemon = True
            self._timers[sid] = t
            t.start()

    def _publish(self, sid: str) -> None:
        with self._lock:
            self._timers.pop(sid, None)
        s = self.sessions.restore(sid)
        if s is None:
            return
        msg = {"userId": s["userId"], "sessionId": sid, "device": s["device"], "state": s["state"],
               "stateTs": s["stateTs"]}
        self.sessions._r(lambda: self.sessions.redis.publish(CHANNEL, json.dumps(msg)))

    def flush(self) -> None:
        """Publish every pending debounced change now (shutdown, tests)."""
        with self._lock:
            pending = list(self._timers)
            for t in self._timers.values():
                t.cancel()
        for sid in pending:
            self._publish(sid)

    # ------------------------------------------------------------------ receiving
    def apply(self, msg: dict[str, Any]) -> int:
        """Apply one message to the user's other sessions; the number changed."""
        n = 0
        for sid in self.sessions.sessions_of(msg["userId"]):
            if sid == msg["sessionId"]:
                continue
            s = self.sessions.restore(sid)
            if s is None or s["device"] == msg["device"]:
                continue
            merged = self.resolve(s, msg)
            if merged != s:
                self.sessions.save(merged)
                n += 1
        self.applied += n
        return n

    def start(self) -> None:
        if self._thread is not None:
            return
        self._pubsub = self.sessions.redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(CHANNEL)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="mgw-device-sync", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                m = self._pubsub.get_message(timeout=0.2)
            except Exception as e:  # Redis away: wait and resubscribe
                log.debug("sync listener: %s", e)
                time.sleep(0.5)
                try:
                    self._pubsub = self.sessions.redis.pubsub(ignore_subscribe_messages=True)
                    self._pubsub.subscribe(CHANNEL)
                except Exception:
                    pass
                continue
            if m and m.get("type") == "message":
                try:
                    self.apply(json.loads(m["data"]))
                except (ValueError, KeyError) as e:
                    log.warning("sync: ignored a malformed message: %s", e)

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=2)
            self._thread = None
        with self._lock:
            for t in self._timers.values():
                t.cancel()
            self._timers.clear()

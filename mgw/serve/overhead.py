"""What the server adds over the in-process pipeline at 1 user, measured so a shared machine blurs it least.

- Interleaved pairs: each pair is one in-process `Service.search` (the code the endpoint calls, no encoding) and
  one HTTP request of the same query on a keep-alive connection, their order alternating; the headline is the
  median of the paired differences, so load that comes and goes hits both halves of a pair alike.
- The HTTP time is split by the server's `Server-Timing: app;dur=` header into the app's share (FastAPI, auth,
  the search, JSON) and the rest (uvicorn, sockets, the scheduler waking client and server).
- CPU time per request (server process from /proc, client thread, in-process thread) does not count waiting
  for a core, so it says what the HTTP layer costs even when the wall times are inflated by load.
- Client and server can be pinned to different cores (`--pin`: steadier on a quiet machine, worse on a busy
  one, where a pinned process cannot move to a free core); the load average is recorded before and after.
The server's warm cache and the in-process one answer the same queries, so both sides are cache hits."""
from __future__ import annotations

import http.client
import os
import time
from typing import Any, Sequence
from urllib.parse import urlencode

import numpy as np

from mgw.serve.loadgen import percentiles


def _proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process (all threads) from /proc; None off Linux."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int]) -> bool:
    try:
        os.sched_setaffinity(pid, cpus)
        return True
    except (AttributeError, OSError):
        return False


def _server_timing(value: str | None) -> float | None:
    """`app;dur=1.234` → seconds."""
    if not value:
        return None
    for part in value.split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:]) / 1e3
    return None


def measure(svc: Any, base: str, token: str, user: str, queries: Sequence[str], pairs: int,
            server_pid: int | None = None, pin_cores: bool = False) -> dict[str, Any]:
    """Interleaved in-process vs HTTP pairs; see the module docstring. `server_pid` enables the server's CPU
    time and the pinning (server on the last core, this client on the first)."""
    host, port = base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)  # the first queries warm the embedder
    headers = {"Authorization": f"Bearer {token}"}
    ncpu = os.cpu_count() or 1
    old_affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    pinned = bool(pin_cores and server_pid and ncpu >= 2 and pin(server_pid, {ncpu - 1}) and pin(0, {0}))
    app_s: list[float] = []

    def http_once(q: str, path: str = "/api/search") -> float:
        t = time.perf_counter()
        conn.request("GET", path + "?" + urlencode({"q": q, "limit": 10}), headers=headers)
        r = conn.getresponse()
        r.read()
        dt = time.perf_counter() - t
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status} during the overhead run")
        app = _server_timing(r.getheader("server-timing"))
        if app is not None:
            app_s.append(app)
        return dt

    def inproc_once(q: str) -> float:
        t = time.perf_counter()
        svc.search(user, q, 10, 0)
        return time.perf_counter() - t

    def health_once() -> float:
        t = time.perf_counter()
        conn.request("GET", "/health")
        conn.getresponse().read()
        return time.perf_counter() - t

    load_before = list(os.getloadavg())
    try:
        for q in queries:  # warm both caches
            http_once(q), inproc_once(q)
        for _ in range(20):
            health_once()
        app_s.clear()
        a, b = [], []
        for i in range(pairs):
            q = queries[i % len(queries)]
            if i % 2:
                a.append(inproc_once(q)), b.append(http_once(q))
            else:
                b.append(http_once(q)), a.append(inproc_once(q))
        health = [health_once() for _ in range(min(pairs, 200))]
        # CPU time: a block of HTTP requests, then a block in-process (CPU time ignores the interleaving's purpose)
        n_cpu = max(pairs, 200)
        s0, c0 = (_proc_cpu_s(server_pid) if server_pid else None), time.thread_time()
        for i in range(n_cpu):
            http_once(queries[i % len(queries)])
        s1, c1 = (_proc_cpu_s(server_pid) if server_pid else None), time.thread_time()
        for i in range(n_cpu):
            inproc_once(queries[i % len(queries)])
        inproc_cpu = (time.thread_time() - c1) / n_cpu
    finally:
        conn.close()
        if pinned and old_affinity is not None:
            pin(0, old_affinity)
    load_after = list(os.getloadavg())
    ms = 1e3
    pa, pb = float(np.median(a)) * ms, float(np.median(b)) * ms
    diff = np.subtract(b, a)
    out: dict[str, Any] = {
        "pairs": pairs, "pinned": pinned, "load_average_before": load_before, "load_average_after": load_after,
        "inprocess_p50_ms": round(pa, 4), "http_p50_ms": round(pb, 4),
        "overhead_p50_ms": round(float(np.median(diff)) * ms, 4),  # the median of the paired differences
        "paired_diff_p50_ms": round(float(np.median(diff)) * ms, 4),
        "paired_diff_p25_p75_ms": [round(float(np.percentile(diff, q)) * ms, 4) for q in (25, 75)],
        "diff_of_p50_ms": round(pb - pa, 4), "ratio_http_over_inprocess": round(pb / pa, 3),
        "health_http_p50_ms": round(float(np.median(health)) * ms, 4),
        "inprocess": percentiles(a), "http": percentiles(b),
        "cpu_inprocess_ms_per_request": round(inproc_cpu * ms, 4),
        "cpu_client_ms_per_request": round((c1 - c0) / n_cpu * ms, 4),
    }
    if app_s:
        app_p50 = float(np.median(app_s[: len(b)])) * ms
        out.update(app_p50_ms=round(app_p50, 4), transport_p50_ms=round(pb - app_p50, 4))
    if s0 is not None and s1 is not None:
        server_cpu = (s1 - s0) / n_cpu
        out.update(cpu_server_ms_per_request=round(server_cpu * ms, 4),
                   cpu_overhead_ms_per_request=round((server_cpu + (c1 - c0) / n_cpu - inproc_cpu) * ms, 4))
    return out


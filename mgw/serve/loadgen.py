"""Load generators against a live server on 127.0.0.1: closed-loop users by locust headless (`run_locust`: the
load levels), closed-loop users by asyncio + aiohttp (`run_users`: load alongside the Redis fault, in a thread of
the bench process), and long-lived SSE clients by asyncio + aiohttp, so thousands of connections fit one process."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np


def _run(coro) -> Any:
    """asyncio.run, also from inside a running loop (a notebook kernel): then on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def percentiles(lat_s: list[float]) -> dict[str, float | None]:
    if not lat_s:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    a = np.asarray(lat_s) * 1e3
    return {f"p{q}_ms": round(float(np.percentile(a, q)), 3) for q in (50, 95, 99)}


async def _users(base: str, tokens: list[str], queries: list[str], users: int, seconds: float,
                 path: str = "/api/search") -> dict[str, Any]:
    import aiohttp

    lat: list[float] = []
    codes: dict[int, int] = {}
    errors = 0
    stop = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as s:
        async def user(u: int) -> None:
            nonlocal errors
            i = u
            headers = {"Authorization": f"Bearer {tokens[u % len(tokens)]}"}
            while time.perf_counter() < stop:
                q = queries[i % len(queries)]
                i += users
                t = time.perf_counter()
                try:
                    async with s.get(path, params={"q": q, "limit": "10"}, headers=headers) as r:
                        await r.read()
                        codes[r.status] = codes.get(r.status, 0) + 1
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1
                    continue
                lat.append(time.perf_counter() - t)
        t0 = time.perf_counter()
        await asyncio.gather(*(user(u) for u in range(users)))
        wall = time.perf_counter() - t0
    n = sum(codes.values())
    bad = sum(c for k, c in codes.items() if k >= 500) + errors
    return {"users": users, "requests": n, "seconds": round(wall, 3), "qps": round(n / wall, 1),
            "errors_5xx": sum(c for k, c in codes.items() if k >= 500), "connection_errors": errors,
            "error_rate": round(bad / max(n + errors, 1), 6), "status": {str(k): v for k, v in sorted(codes.items())},
            **percentiles(lat)}


def run_users(base: str, tokens: list[str], queries: list[str], users: int, seconds: float) -> dict[str, Any]:
    return _run(_users(base, tokens, queries, users, seconds))


def run_locust(base: str, tokens: list[str], queries: list[str], users: int, seconds: float,
               counts: Any = None, warm_s: float = 0.5) -> dict[str, Any]:
    """locust headless (mgw/serve/locustfile.py: FastHttpUser, no think time, all users at once) for a measured
    window of `seconds` after `warm_s`; percentiles and counts from locust's own stats. `counts()` (the server's
    request counts by status class) gives the 5xx the server answered; locust's failures also count refused or
    timed-out connections. Runs in a child process (locust patches the standard library with gevent)."""
    import json
    import subprocess
    import sys
    from importlib.metadata import version

    settings = {"host": base, "tokens": tokens[:max(users, 1)], "queries": list(queries), "users": users,
                "seconds": seconds, "warm_s": warm_s}
    before = counts() if counts else None
    r = subprocess.run([sys.executable, "-m", "mgw.serve.locustfile", json.dumps(settings)], capture_output=True,
                       text=True, timeout=seconds + warm_s + 120)
    if r.returncode != 0:
        raise RuntimeError(f"locust failed ({r.returncode}): {r.stderr[-2000:]}")
    got = json.loads(r.stdout.strip().splitlines()[-1])
    after = counts() if counts else None
    n, failed = got["requests"], got["failures"]
    return {"tool": f"locust {version('locust')}", "users": users, **got,
            "errors_5xx": int(after["5xx"] - before["5xx"]) if counts else None,
            "error_rate": round(failed / max(n, 1), 6)}


async def _sse(base: str, tokens: list[str], clients: int, hold_s: float, results: int,
               ramp_s: float) -> dict[str, Any]:
    import aiohttp

    delay_ms = hold_s * 1000.0 / results
    complete = 0
    short = failed = 0
    durations: list[float] = []
    statuses: dict[str, int] = {}
    conn = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=hold_s + 120, sock_read=hold_s + 60)
    async with aiohttp.ClientSession(base, connector=conn, timeout=timeout) as s:
        async def client(i: int) -> None:
            nonlocal complete, short, failed
            await asyncio.sleep(ramp_s * i / clients)
            t = time.perf_counter()
            got = 0
            done = False
            try:
                async with s.get("/api/search/stream",
                                 params={"q": f"drama {i % 50}", "limit": str(results), "delay_ms": str(delay_ms)},
                                 headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"}) as r:
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                    async for line in r.content:
                        if line.startswith(b"event: result"):
                            got += 1
                        elif line.startswith(b"event: complete"):
                            done = True
            except (aiohttp.ClientError, asyncio.TimeoutError):
                failed += 1
                return
            dur = time.perf_counter() - t
            durations.append(dur)
            if done and got == results and dur >= hold_s * 0.99:
                complete += 1
            else:
                short += 1
        await asyncio.gather(*(client(i) for i in range(clients)))
    return {"clients": clients, "hold_s": hold_s, "complete": complete, "incomplete": short, "failed": failed,
            "status": statuses, "duration_s": {"min": round(min(durations), 2) if durations else None,
                                               "max": round(max(durations), 2) if durations else None}}


def run_sse(base: str, tokens: list[str], clients: int, hold_s: float, results: int = 10,
            ramp_s: float = 5.0) -> dict[str, Any]:
    from mgw.serve.run import raise_nofile

    raise_nofile()
    return _run(_sse(base, tokens, clients, hold_s, results, ramp_s))

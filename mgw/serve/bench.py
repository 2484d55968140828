"""`mgw serve bench` (DVC stage serve_bench) → reports/metrics/serve.json.

Runs the server as a separate process (uvicorn, one worker) on 127.0.0.1 and measures, on this machine:
- overhead (mgw/serve/overhead.py): the same search through HTTP and in-process (`Service.search`, the code the
  endpoint calls), interleaved pairs at 1 user on warm caches; the median paired difference (ms), its split into
  app and transport by `Server-Timing`, CPU time per request; `--overhead-only` runs just this (< 60 s);
- latency p50/p95/p99, error rate and achieved QPS at each `serve.bench_users` concurrency, by locust headless
  (closed loop, no think time; 5xx counted by the server); max QPS = the highest achieved QPS with no errors;
- concurrent SSE clients held for `bench_sse_hold_s` with every stream complete;
- a Redis fault run: server on redis-server (cache L2 + sessions), Redis killed under load and restarted;
  5xx counted, a session checkpointed before the kill read back after;
- schemathesis over the OpenAPI schema: requests the server saw and how many were 5xx.
Client and server share the machine's cores, so every absolute number is a lower bound for the server alone."""
from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from mgw import claims as seed_claims
from mgw.config import ROOT
from mgw.serve.loadgen import run_locust, run_sse, run_users
from mgw.serve.overhead import measure as measure_overhead

log = logging.getLogger(__name__)
QUERIES = ["comedies on netflix", "space adventure", "crime dramas in the UK", "family animation on disney",
           "horror not on hulu", "romantic comedies from the 90s", "documentaries about nature", "thrillers",
           "sci-fi series on prime", "action movies in Japan", "kids movies", "true crime documentaries"]
PHASES = "examples,coverage,fuzzing,stateful"  # schemathesis: every phase (coverage = boundary values per field)
# the seed figures each measurement is set beside (their one source: mgw/claims.py)
CLAIM_IDS = {"qps": "s5.2-service-qps", "concurrent_users": "s5.2-concurrent-users", "cache_hit_ms": "s5.1-cache-hit"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server_process(params_file: Path, secret: str, env_extra: dict[str, str] | None = None):
    """`mgw serve` in a child process; yields (base URL, process)."""
    port = _free_port()
    env = {**os.environ, "MGW_JWT_SECRET": secret, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    proc = subprocess.Popen([sys.executable, "-m", "mgw", "--params", str(params_file), "serve", "--port", str(port),
                             "--token-user", ""], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mgw serve exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("mgw serve did not answer /health in 300 s")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_counts(base: str, token: str) -> dict[str, float]:
    """mgw_requests_total by status class from the live /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    import urllib.request

    req = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    out: dict[str, float] = {"total": 0.0, "5xx": 0.0}
    for fam in text_string_to_metric_families(text):
        if fam.name == "mgw_requests":
            for s in fam.samples:
                if s.name.endswith("_total"):
                    out["total"] += s.value
                    if s.labels["status"].startswith("5"):
                        out["5xx"] += s.value
                    key = f"{s.labels['channel']} {s.labels['status']}"  # e.g. "sessions 200", "events 202"
                    out[key] = out.get(key, 0.0) + s.value
    return out


def _write_params(base_params: Any, path: Path, serve: dict[str, Any], cache: dict[str, Any] | None = None) -> Path:
    doc = json.loads(base_params.model_dump_json())
    doc["serve"].update(serve)
    if cache:
        for k, v in cache.items():
            doc["cache"][k].update(v) if isinstance(v, dict) else doc["cache"].__setitem__(k, v)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _redis(binary: str, port: int, workdir: str) -> subprocess.Popen:
    import redis

    p = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
    for _ in range(100):
        try:
            c.ping()
            return p
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def fault_run(params: Any, tmp: Path, secret: str, seconds: float) -> dict[str, Any]:
    """Redis (cache L2 + sessions) killed during load at 10 users, then restarted empty."""
    import threading

    import httpx

    from mgw.cache.redis_server import redis_server_binary
    from mgw.serve.auth import TokenAuth

    binary = redis_server_binary()
    if binary is None:
        return {"skipped": "redis-server is not installed"}
    port = _free_port()
    rdir = tempfile.mkdtemp(prefix="mgw-redis-fault-")
    redis_proc = _redis(binary, port, rdir)
    url = f"redis://127.0.0.1:{port}/0"
    pf = _write_params(params, tmp / "fault.yaml", {"redis_url": url, "sql_url": f"sqlite:///{tmp / 'fault.db'}",
                                                    "checkpoint_s": 0.5, "rate_per_s": 1e6, "rate_burst": 1_000_000},
                       {"L2": {"url": url}})
    auth = TokenAuth(secret)
    tokens = [auth.issue(f"fault-{i}") for i in range(10)]
    out: dict[str, Any] = {}
    try:
        with server_process(pf, secret) as (base, _):
            h = {"Authorization": f"Bearer {tokens[0]}"}
            sid = httpx.post(f"{base}/api/sessions", json={"device": "phone"}, headers=h).json()["sessionId"]
            httpx.get(f"{base}/api/search", params={"q": "westerns", "session": sid}, headers=h)
            time.sleep(1.5)  # a checkpoint passes
            result: dict[str, Any] = {}
            t = threading.Thread(target=lambda: result.update(run_users(base, tokens, QUERIES, 10, seconds * 3)))
            t.start()
            time.sleep(seconds)
            redis_proc.kill()
            redis_proc.wait()
            killed_at = time.time()
            time.sleep(seconds)
            redis_proc = _redis(binary, port, rdir)  # back, empty
            restarted_after = time.time() - killed_at
            t.join()
            time.sleep(1.0)
            s = httpx.get(f"{base}/api/sessions/{sid}", headers=h)
            out = {"load": result, "redis_down_s": round(restarted_after, 2),
                   "session_restored_after_restart": s.status_code == 200
                   and s.json()["state"]["currentQuery"] == "westerns",
                   "errors_5xx": result.get("errors_5xx", 0) + (s.status_code >= 500)}
    finally:
        redis_proc.kill()
        redis_proc.wait()
        shutil.rmtree(rdir, ignore_errors=True)
    return out


def fuzz_run(base: str, token: str, examples: int, counts: Any, phases: str = PHASES) -> dict[str, Any]:
    """schemathesis CLI over the live schema; requests and 5xx counted by the server itself."""
    before = counts()
    exe = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    cmd = [exe, "run", f"{base}/openapi.json", "--checks", "all", "-H", f"Authorization: Bearer {token}",
           "--max-examples", str(examples), "--seed", "42", "--generation-database", "none", "--no-color",
           "--phases", phases]
    with tempfile.TemporaryDirectory(prefix="mgw-fuzz-") as work:  # schemathesis writes its state into the cwd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=work)
    after = counts()
    by_status = {k: int(after[k] - before.get(k, 0.0)) for k in sorted(after)
                 if k not in ("total", "5xx") and after[k] - before.get(k, 0.0) > 0}
    return {"examples_per_operation": examples, "phases": phases, "exit_code": r.returncode, "by_route_status": by_status,
            "fuzz_requests": int(after["total"] - before["total"] - 1), "fuzz_5xx": int(after["5xx"] - before["5xx"]),
            "output_tail": r.stdout[-6000:]}


def browser_run(base: str, token: str, folder: Path) -> dict[str, Any]:
    """The page in headless chromium: a query, streamed results, page 2; a screenshot for the report."""
    import csv

    from mgw.serve.browser import browser_paths, screenshot

    folder.mkdir(parents=True, exist_ok=True)
    if browser_paths() is None:
        return {"skipped": "chromium/chromium-driver not installed"}
    got = screenshot(base, token, "comedies on netflix", folder / "page.png")
    with (folder / "page_results.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["page", "rank", "id"])
        for page in ("page1", "page2"):
            for i, eid in enumerate(got[page]):
                w.writerow([page, i + 1, eid])
    return {"screenshot": str(folder / "page.png"), "page1": len(got["page1"]), "page2": len(got["page2"]),
            "status": got["status"]}


def _unthrottled(tmp: Path) -> dict[str, Any]:
    """serve settings of every benchmark server: no per-token rate limit (it would answer the load with 429s) and
    session checkpoints in a throwaway SQLite file."""
    return {"rate_per_s": 1e6, "rate_burst": 1_000_000, "sql_url": f"sqlite:///{tmp / 'sessions.db'}"}


def run_bench(params: Any, full: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    from mgw.provenance import stamp  # noqa: F401  (write_metrics stamps)
    from mgw.reporting import write_metrics
    from mgw.serve.auth import TokenAuth
    from mgw.serve.run import raise_nofile
    from mgw.serve.service import Service

    raise_nofile()
    sp = params.serve
    sse_clients = 2000 if full else sp.bench_sse_clients
    hold_s = 60.0 if full else sp.bench_sse_hold_s
    fuzz_examples = 60 if full else sp.bench_fuzz_examples
    secret = "bench-" + os.urandom(24).hex()
    auth = TokenAuth(secret)
    tmp = Path(tempfile.mkdtemp(prefix="mgw-serve-bench-"))
    load_serve = {**_unthrottled(tmp), "heartbeat_s": 5.0}
    pf = _write_params(params, tmp / "params.yaml", load_serve)
    out: dict[str, Any] = {"settings": {"full": full, "sse_clients": sse_clients, "sse_hold_s": hold_s,
                                        "fuzz_examples": fuzz_examples, "users": sp.bench_users,
                                        "seconds_per_level": sp.bench_seconds, "demo_titles": sp.demo_titles}}
    try:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        inproc = Service.build(params.model_copy(update={"serve": params.serve.model_copy(update=load_serve)}),
                               store_root=tmp / "store-inproc", secret=secret)
        with server_process(pf, secret) as (base, proc):
            tok = auth.issue("bench-user")
            out["overhead"] = measure_overhead(inproc, base, tok, "bench-user", QUERIES, sp.bench_overhead_pairs,
                                               server_pid=proc.pid)
            tokens = [auth.issue(f"load-{i}") for i in range(max(sp.bench_users))]
            counts = lambda: server_counts(base, tok)  # noqa: E731
            out["load"] = [run_locust(base, tokens, QUERIES, n, sp.bench_seconds, counts) for n in sp.bench_users]
            # 50 users × their 50 queries: the streams' searches are cache hits, so this holds connections and
            # does not re-measure search throughput (that is the load run's job)
            out["sse"] = run_sse(base, [auth.issue(f"sse-{i}") for i in range(50)], sse_clients, hold_s)
            out["browser"] = browser_run(base, tok, ROOT / "reports" / "serving" if out_dir is None
                                         else Path(out_dir) / "serving")
            out["fuzz"] = fuzz_run(base, tok, fuzz_examples, lambda: server_counts(base, tok), sp.bench_fuzz_phases)
            out["server_counts"] = server_counts(base, tok)
        inproc.stop()
        out["fault"] = fault_run(params, tmp, secret, sp.bench_seconds) if sp.bench_fault else {"skipped": "off"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ok_levels = [lv for lv in out["load"] if lv["error_rate"] == 0]
    load_5xx = sum(lv["errors_5xx"] for lv in out["load"])
    out["headline"] = {
        "overhead_p50_ms": out["overhead"]["overhead_p50_ms"],
        "overhead_ratio": out["overhead"]["ratio_http_over_inprocess"],
        "max_qps": max((lv["qps"] for lv in ok_levels), default=0.0),
        "p50_ms_by_users": {str(lv["users"]): lv["p50_ms"] for lv in out["load"]},
        "sse_clients_held": out["sse"]["complete"],
        "sse_clients_tried": sse_clients,
        "sse_hold_s": hold_s,
        "errors_5xx": int(load_5xx + out["fault"].get("errors_5xx", 0)),
        "fault_session_restored": out["fault"].get("session_restored_after_restart"),
        "fuzz_requests": out["fuzz"]["fuzz_requests"],
        "fuzz_5xx": out["fuzz"]["fuzz_5xx"],
    }
    measured = {"qps": ("measured", out["headline"]["max_qps"]),
                "concurrent_users": ("measured_sse_clients_held", out["sse"]["complete"]),
                "cache_hit_ms": ("measured_http_p50_ms_warm", out["overhead"]["http_p50_ms"])}
    out["seed_claims"] = {name: {"claim": seed_claims.value(cid), "target": seed_claims.get(cid).target,
                                 measured[name][0]: measured[name][1]} for name, cid in CLAIM_IDS.items()}
    out["load_average"] = list(os.getloadavg())
    write_metrics("serve", out, seed=params.seed, threads=1, metrics_dir=out_dir)
    return out


def run_overhead_only(params: Any, pairs: int | None = None, out_dir: Path | None = None, pin: bool = False) -> dict[str, Any]:
    """Just the overhead (for a quiet machine, well under a minute after the server starts): writes
    `reports/metrics/serve_overhead.json`, and updates serve.json's overhead and headline when serve.json
    exists (its other numbers keep their own run's load average, noted under `overhead_separate_run`)."""
    from mgw.config import ROOT as _root
    from mgw.reporting import write_metrics
    from mgw.serve.auth import TokenAuth
    from mgw.serve.service import Service

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    pairs = pairs or params.serve.bench_overhead_pairs
    secret = "bench-" + os.urandom(24).hex()
    tmp = Path(tempfile.mkdtemp(prefix="mgw-serve-overhead-"))
    serve = _unthrottled(tmp)
    pf = _write_params(params, tmp / "params.yaml", serve)
    try:
        inproc = Service.build(params.model_copy(update={"serve": params.serve.model_copy(update=serve)}),
                               store_root=tmp / "store-inproc", secret=secret)
        with server_process(pf, secret) as (base, proc):
            res = measure_overhead(inproc, base, TokenAuth(secret).issue("bench-user"), "bench-user", QUERIES,
                                   pairs, server_pid=proc.pid, pin_cores=pin)
        inproc.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["headline"] = {"overhead_p50_ms": res["overhead_p50_ms"], "overhead_ratio": res["ratio_http_over_inprocess"],
                       "load_average_before": res["load_average_before"]}
    write_metrics("serve_overhead", res, seed=params.seed, threads=1, metrics_dir=out_dir)
    serve_json = Path(out_dir or _root / "reports" / "metrics") / "serve.json"
    if serve_json.exists():
        doc = json.loads(serve_json.read_text())
        doc.pop("_provenance", None)
        doc["overhead"] = {k: v for k, v in res.items() if k != "headline"}
        doc["headline"].update(overhead_p50_ms=res["overhead_p50_ms"], overhead_ratio=res["ratio_http_over_inprocess"])
        doc["overhead_separate_run"] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                        "load_average_before": res["load_average_before"]}
        doc["seed_claims"]["cache_hit_ms"]["measured_http_p50_ms_warm"] = res["http_p50_ms"]
        write_metrics("serve", doc, seed=params.seed, threads=1, metrics_dir=out_dir)
    return res

"""The real crash test and the concurrency test (issue 8), shared by tests and `mgw store bench`.

Crash test: this process forks a writer that opens the store (running recovery), writes deterministic
batches (inserts, updates, deletes, periodic snapshots) and appends each batch number to an ack file only
after `commit` returned; the parent SIGKILLs it after a random delay, then opens the store and checks:
every acknowledged batch is there, the rows equal the deterministic state after exactly j batches
(j = last ack or last ack + 1: no partial batch), the index matches the rows, searches agree with brute
force, and every valid snapshot holds a whole-batch state. Run it in its own process
(`python -m mgw.store.crash`): fork() is only safe before threads exist.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from mgw.store.content import ContentStore

WORKLOAD = dict(dim=16, batch=8, compact_min=48, snapshot_every=5)


# --------------------------------------------------------------------------- deterministic workload
def batch_ops(b: int, seed: int, dim: int, size: int) -> dict[str, Any]:
    """Batch b: insert `size` rows; every third batch also deletes the even rows of batch b-2 and
    moves row 0 of batch b-1 to a new vector."""
    rng = np.random.default_rng([seed, b])
    ops: dict[str, Any] = {"insert": {f"b{b}-{i}": rng.normal(size=dim).astype(np.float32) for i in range(size)}}
    if b >= 2 and b % 3 == 2:
        ops["delete"] = [f"b{b - 2}-{i}" for i in range(0, size, 2)]
        ops["update"] = {f"b{b - 1}-0": rng.normal(size=dim).astype(np.float32)}
    return ops


def state_after(j: int, seed: int, dim: int, size: int) -> dict[str, np.ndarray]:
    state: dict[str, np.ndarray] = {}
    for b in range(j):
        ops = batch_ops(b, seed, dim, size)
        state.update(ops["insert"])
        for i in ops.get("delete", []):
            state.pop(i)
        state.update(ops.get("update", {}))
    return state


def committed_batches(store: ContentStore) -> int:
    """Row 1 of every batch is never deleted, so the highest b with `b{b}-1` present + 1."""
    rows = store.conn.execute("SELECT entity_id FROM content WHERE entity_id LIKE 'b%-1'").fetchall()
    return 1 + max((int(r[0][1:].split("-")[0]) for r in rows), default=-1)


def _doc(eid: str) -> dict[str, Any]:
    return {"entity_id": eid, "title": eid, "type": "movie", "genres": ["drama"]}


def writer(root: Path, ack: Path, backend: str, seed: int) -> None:
    """Runs in the forked child until killed."""
    dim, size = WORKLOAD["dim"], WORKLOAD["batch"]
    store = ContentStore(root, dim=dim, backend=backend, compact_min=WORKLOAD["compact_min"], max_snapshots=3)
    b = committed_batches(store)
    fd = os.open(ack, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    while True:
        ops = batch_ops(b, seed, dim, size)
        with store.transaction() as tx:
            tx.insert_batch([_doc(i) for i in ops["insert"]], np.stack(list(ops["insert"].values())))
            if "delete" in ops:
                tx.delete(ops["delete"])
                tx.update_batch([_doc(i) for i in ops["update"]], np.stack(list(ops["update"].values())))
        os.write(fd, f"{b}\n".encode())  # acknowledged only after commit returned
        b += 1
        if b % WORKLOAD["snapshot_every"] == 0:
            store.snapshot()


# --------------------------------------------------------------------------- verification
def verify(root: Path, ack: Path, backend: str, seed: int, rng: random.Random) -> dict[str, Any]:
    import sqlite3

    dim, size = WORKLOAD["dim"], WORKLOAD["batch"]
    acked = [int(x) for x in ack.read_text().split()] if ack.exists() else []
    last_ack = max(acked, default=-1)
    t0 = time.perf_counter()
    store = ContentStore(root, dim=dim, backend=backend, compact_min=WORKLOAD["compact_min"], max_snapshots=3)
    open_s = time.perf_counter() - t0
    problems: list[str] = []
    recalls: list[float] = []
    try:
        ids, vecs = store.embeddings()
        got = dict(zip(ids, vecs))
        j = committed_batches(store)
        if j < last_ack + 1:
            problems.append(f"acknowledged batch {last_ack} missing (store has {j} batches)")
        if j > last_ack + 2:
            problems.append(f"store has {j} batches but only {last_ack + 1} were written")
        want = state_after(j, seed, dim, size)
        if set(got) != set(want) or any(not np.array_equal(got[k], want[k]) for k in want):
            problems.append(f"rows are not the state after {j} whole batches (partial batch visible)")
        chk = store.check()
        if not chk["consistent"]:
            problems.append(f"index does not match rows: {chk}")
        if ids:
            sample = rng.sample(ids, min(5, len(ids)))
            q = np.stack([got[i] for i in sample])
            k = min(5, len(ids))
            res_ids, _ = store.search(q, k)
            unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
            qn = q / np.linalg.norm(q, axis=1, keepdims=True)
            truth = np.argsort(-(qn @ unit.T), axis=1)[:, :k]
            exact = "exact" in str(backend)
            for r, sid in enumerate(sample):
                recall = len(set(res_ids[r]) & {ids[t] for t in truth[r]}) / k
                recalls.append(recall)
                if exact and (res_ids[r][0] != sid or recall < 1):
                    problems.append(f"search for {sid} differs from brute force: {res_ids[r]}")
                if not exact and recall < 0.6:  # approximate backend: only a broken index gets here
                    problems.append(f"search for {sid}: recall@{k} {recall:.2f} vs brute force")
        n_valid = 0
        for snap in store.snapshots.valid(warn=False):
            n_valid += 1
            c = sqlite3.connect(f"file:{snap.path}?mode=ro&immutable=1", uri=True)
            sids = {r[0] for r in c.execute("SELECT entity_id FROM content")}
            c.close()
            sj = 1 + max((int(i[1:].split("-")[0]) for i in sids if i.endswith("-1")), default=-1)
            if sids != set(state_after(sj, seed, dim, size)) or len(sids) != snap.meta["count"]:
                problems.append(f"snapshot {snap.name} holds a partial state")
        n_all = len(store.snapshots.candidates())
        rec = store.recovery
    finally:
        store.close()
    return {"acked": last_ack + 1, "batches": j, "committed_unacked": j - (last_ack + 1), "open_s": open_s,
            "recovered_from_snapshot": rec.get("snapshot") is not None, "replayed": rec.get("replayed", 0),
            "snapshots_valid": n_valid, "snapshots_invalid_seen": n_all - n_valid, "recalls": recalls,
            "problems": problems}


def run_crash_test(workdir: str | Path, runs: int = 100, backend: str | None = None, seed: int = 0,
                   max_delay_s: float = 0.12, progress: bool = False) -> dict[str, Any]:
    """Kill a writer `runs` times (SIGKILL at a random moment) and verify after each kill."""
    from mgw.store.backend import EXACT_SPEC

    backend = backend or EXACT_SPEC
    root, ack = Path(workdir) / "store", Path(workdir) / "acks.txt"
    rng = random.Random(seed)
    results = []
    t_start = time.perf_counter()
    for run in range(runs):
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                writer(root, ack, backend, seed)
            except BaseException:  # noqa: BLE001 - the child must never return into the parent's code
                import traceback
                traceback.print_exc()
                code = 3
            os._exit(code)
        time.sleep(rng.uniform(0.0, max_delay_s))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        r = verify(root, ack, backend, seed, rng)
        r["killed"] = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        if not r["killed"]:
            r["problems"].append(f"writer exited by itself (status {status})")
        results.append(r)
        if progress:
            print(f"kill {run + 1}/{runs}: batches={r['batches']} problems={len(r['problems'])}", file=sys.stderr)
    opens = np.array([r["open_s"] for r in results])
    problems = [p for r in results for p in r["problems"]]
    return {
        "kills": sum(r["killed"] for r in results), "runs": runs, "backend": backend, "seed": seed,
        "max_delay_s": max_delay_s, "workload": WORKLOAD,
        "batches_committed": results[-1]["batches"] if results else 0,
        "batches_acknowledged": results[-1]["acked"] if results else 0,
        "kills_after_commit_before_ack": sum(r["committed_unacked"] > 0 for r in results),
        "recoveries_from_snapshot": sum(r["recovered_from_snapshot"] for r in results),
        "invalid_snapshot_files_seen": sum(r["snapshots_invalid_seen"] for r in results),
        "recovery_open_ms": {"p50": float(np.percentile(opens, 50) * 1e3), "p95": float(np.percentile(opens, 95) * 1e3),
                             "max": float(opens.max() * 1e3)} if len(opens) else {},
        "search_recall_at_5_vs_brute_force": float(np.mean([x for r in results for x in r["recalls"]] or [np.nan])),
        "failures": len(problems), "problems": problems[:20], "seconds": time.perf_counter() - t_start,
    }


# --------------------------------------------------------------------------- concurrency
def run_concurrency_test(root: str | Path, readers: int = 4, seconds: float = 2.0, backend: str | None = None,
                         seed: int = 0, group: int = 6, dim: int = 32, min_commits: int = 0, min_searches: int = 0,
                         max_seconds: float = 120.0) -> dict[str, Any]:
    """Reader threads search while a writer inserts, moves (updates) and deletes whole groups of `group`
    near-identical rows in single transactions. A reader querying a group's direction must see all of its
    rows or none of them; anything in between is a torn read. Runs for `seconds` and until at least
    `min_commits` commits and `min_searches` searches happened (a slow machine runs longer, up to
    `max_seconds`), so the amount of concurrency tested does not depend on the machine's load."""
    from mgw.store.backend import EXACT_SPEC

    backend = backend or EXACT_SPEC
    rng = np.random.default_rng(seed)
    dirs = [d / np.linalg.norm(d) for d in rng.normal(size=(400, dim)).astype(np.float32)]
    store = ContentStore(root, dim=dim, backend=backend, compact_min=4 * group)
    stop = threading.Event()
    stats = {"searches": 0, "torn": 0, "errors": [], "commits": 0, "versions_backwards": 0}
    lock = threading.Lock()
    where: dict[int, int] = {}  # group -> direction index (writer's view)

    def rows(g: int, d: int) -> tuple[list[dict], np.ndarray]:
        noise = np.random.default_rng([seed, g, d]).normal(scale=0.01, size=(group, dim)).astype(np.float32)
        return [_doc(f"g{g}-{i}") for i in range(group)], dirs[d] + noise

    def write() -> None:
        g_next, d_next = 0, 0
        try:
            while not stop.is_set():
                with store.transaction() as tx:
                    docs, v = rows(g_next, d_next)
                    tx.insert_batch(docs, v)
                    where[g_next] = d_next
                    g_next, d_next = g_next + 1, (d_next + 1) % len(dirs)
                    if len(where) > 8:
                        victim = min(where)
                        tx.delete([f"g{victim}-{i}" for i in range(group)])
                        del where[victim]
                    mover = max(where)
                    if mover - 1 in where:
                        docs, v = rows(mover - 1, d_next)
                        tx.update_batch(docs, v)
                        where[mover - 1] = d_next
                        d_next = (d_next + 1) % len(dirs)
                stats["commits"] += 1
        except Exception as e:  # noqa: BLE001
            stats["errors"].append(f"writer: {e!r}")

    def read(r: int) -> None:
        local = np.random.default_rng([seed, 1000 + r])
        last_version = -1
        try:
            while not stop.is_set():
                v0 = store.version
                if v0 < last_version:
                    with lock:
                        stats["versions_backwards"] += 1
                last_version = v0
                d = int(local.integers(len(dirs)))
                ids, scores = store.search(dirs[d], k=2 * group)
                close = [i for i, s in zip(ids[0], scores[0]) if s > 0.9]
                groups = {i.split("-")[0] for i in close}
                torn = len(groups) > 1 or (close and len(close) != group)
                with lock:
                    stats["searches"] += 1
                    stats["torn"] += int(bool(torn))
        except Exception as e:  # noqa: BLE001
            with lock:
                stats["errors"].append(f"reader {r}: {e!r}")

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read, args=(r,)) for r in range(readers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    while (stats["commits"] < min_commits or stats["searches"] < min_searches) \
            and time.perf_counter() - t0 < max_seconds and not stats["errors"]:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    chk = store.check()
    store.close()
    return {"readers": readers, "seconds": time.perf_counter() - t0, "backend": getattr(backend, "name", backend), "searches": stats["searches"],
            "commits": stats["commits"], "torn_reads": stats["torn"], "errors": stats["errors"],
            "versions_backwards": stats["versions_backwards"], "consistent_after": chk["consistent"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workdir")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-delay", type=float, default=0.12)
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args(argv)
    out = run_crash_test(a.workdir, a.runs, a.backend, a.seed, a.max_delay, a.progress)
    print(json.dumps(out))
    return 0 if out["failures"] == 0 and out["kills"] == a.runs else 1


if __name__ == "__main__":
    sys.exit(main())

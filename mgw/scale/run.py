"""`mgw scale`: the (stage, n) grid → a results table, power-law fits, one-machine limits, the Ray overhead,
and `reports/metrics/scale.json` (headline: max_titles_one_machine per backend, exponents per stage,
ray_overhead_ratio). Sizes above `scale.max_n` are skipped; `scale.grid` (first-look | full) presets max_n, backends
and ray_overhead (the 1M switch: `-S scale.grid=full -S scale.max_n=1000000`)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mgw.config import ROOT, Params
from mgw.errors import DataError
from mgw.reporting import _jsonable
from mgw.scale import synth
from mgw.scale.child import ChildError, run_in_child, run_in_process
from mgw.scale.fit import PowerLaw, fit_power_law
from mgw.scale.limits import MEMORY_WALL_BYTES, TARGETS, one_machine

log = logging.getLogger(__name__)
STAGES = ("ingest", "resolve", "embed", "index", "hypergraph", "gat", "cache")
S = "mgw.scale.stages:"

#: (stage, metric) pairs fitted; the first metric of a stage is its headline exponent
FITTED = {
    "ingest": ["seconds", "peak_rss_bytes"],
    "resolve": ["seconds", "peak_rss_bytes"],
    "embed": ["seconds"],
    "hypergraph": ["seconds", "query_p95_ms", "rss_delta_bytes"],
    "gat": ["rerank_p50_ms", "rerank_p95_ms", "rss_delta_bytes", "scan_rerank_p50_ms"],
    "cache": ["hit_ratio"],
    "index": ["build_s", "p50_us", "p95_us", "p99_us", "rss_delta_bytes", "bytes_per_vector", "knob_value"],
}


def sizes_to_run(sp: Any, sizes: list[int] | None = None, max_n: int | None = None) -> list[int]:
    cap = max_n if max_n is not None else sp.max_n
    out = sorted({int(n) for n in (sizes or sp.sizes) if int(n) <= cap})
    if len(out) < 2:
        raise DataError(f"scale needs at least two sizes ≤ max_n={cap}, got {out}")
    return out


def _cells(params: Params, sizes: list[int], stages: list[str], backends: list[str], work: Path,
           generator: Path) -> list[tuple[str, int, str | None, str, dict[str, Any]]]:
    """Every (stage, n, backend, target, kwargs) of the grid, in running order (small n first)."""
    sp, pd_ = params.scale, params.model_dump()
    cells = []
    if "embed" in stages:
        cells += [("embed", n, None, S + "embed_rate", {"params": pd_, "n": n}) for n in sp.embed_sizes]
    for n in sizes:
        items = str(work / f"items-{n}.parquet")
        if "ingest" in stages or "resolve" in stages:
            cells.append(("ingest", n, None, S + "ingest", {"params": pd_, "n": n, "items_path": items}))
        if "resolve" in stages and n <= sp.resolve_max_n:
            cells.append(("resolve", n, None, S + "resolve", {"params": pd_, "n": n, "items_path": items}))
        # the GAT stage serves through the index stage's build of the serving backend, when there is one
        served = str(work / f"index-{params.index.backend}-{n}")
        shares = "gat" in stages and "index" in stages and params.index.backend in backends
        if "index" in stages:
            ip = {"M": params.index.M, "efConstruction": params.index.efConstruction}
            cells += [("index", n, b, S + "index_search", {
                "generator": str(generator), "n": n, "backend": b, "index_params": ip, "queries": sp.queries,
                "k": sp.k, "recall_target": sp.recall_target, "threads": sp.threads, "seed": params.seed,
                "runs": sp.runs, "save_path": served if shares and b == params.index.backend else None})
                      for b in backends]
        if "hypergraph" in stages:
            cells.append(("hypergraph", n, None, S + "hypergraph",
                          {"params": pd_, "n": n, "queries": sp.queries, "seed": params.seed}))
        if "gat" in stages:
            cells.append(("gat", n, None, S + "gat", {"params": pd_, "generator": str(generator), "n": n,
                                                       "queries": sp.queries, "seed": params.seed,
                                                       "index_path": served if shares else None, "runs": sp.runs}))
        if "cache" in stages:
            cells.append(("cache", n, None, S + "cache", {
                "params": pd_, "n": n, "requests": sp.cache_requests, "size": sp.cache_size,
                "alpha": sp.cache_alpha, "seed": params.seed}))
    return cells


def generator_hash(generator: Path) -> str:
    """Hash of the generator's arrays (not of the .npz, whose zip entries carry write times)."""
    with np.load(generator, allow_pickle=False) as z:
        h = hashlib.sha256()
        for f in sorted(z.files):
            h.update(f.encode() + np.ascontiguousarray(z[f]).tobytes())
    return h.hexdigest()[:16]


def fingerprint(stage: str, n: int, backend: str | None, kwargs: dict[str, Any], gen_hash: str) -> str:
    """What a cell's result depends on: its arguments (without the scale / ray sections, whose other settings
    do not change this cell) and the vector generator. `--resume` reuses a row only on a match."""
    args = {k: v for k, v in kwargs.items() if not k.endswith("_path")}
    if "params" in args:
        args["params"] = {k: v for k, v in args["params"].items() if k not in ("scale", "ray")}
    blob = json.dumps([stage, n, backend, _jsonable(args), gen_hash], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _done(path: Path) -> dict[str, dict[str, Any]]:
    """Rows of an earlier (possibly interrupted) run, by fingerprint: the measured ones only."""
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if row.get("fingerprint") and not row.get("error"):
                    out[row["fingerprint"]] = row
    return out


def measure(params: Params, sizes: list[int], stages: list[str], backends: list[str], work: Path,
            generator: Path, progress: bool = True, resume: bool = False) -> list[dict[str, Any]]:
    """Run every cell (in its own child process unless `scale.isolate` is off); a failed or timed-out cell is
    recorded, not fatal. Each row is appended to `work/rows.jsonl` as it lands; `resume` reuses the rows there
    whose fingerprint matches (an interrupted long run continues where it stopped) and measures the rest."""
    from tqdm.auto import tqdm

    sp = params.scale
    log_path = work / "rows.jsonl"
    done = _done(log_path) if resume else {}
    if not resume:
        log_path.unlink(missing_ok=True)
    rows, gen_hash = [], generator_hash(generator)
    for stage, n, backend, target, kwargs in tqdm(_cells(params, sizes, stages, backends, work, generator),
                                                 desc="scale", disable=not progress):
        key = fingerprint(stage, n, backend, kwargs, gen_hash)
        if key in done:
            rows.append({**done[key], "resumed": True})
            continue
        base = {"stage": stage, "n": n, "backend": backend, "measured": True, "extrapolated": False,
                "fingerprint": key}
        try:
            out = (run_in_child(target, kwargs, threads=sp.threads, timeout_s=sp.timeout_s) if sp.isolate
                   else run_in_process(target, kwargs, threads=sp.threads))
        except ChildError as e:
            log.warning("scale: %s n=%s %s: %s", stage, n, backend or "", e)
            rows.append({**base, "error": str(e)})
            continue
        rows.append({**base, **out, "load_average_1m": out.get("load_average_1m", os.getloadavg()[0])})
        with open(log_path, "a") as f:  # progress survives an interrupted run
            f.write(json.dumps(_jsonable(rows[-1])) + "\n")
    return rows


def extrapolate_embedding(rows: list[dict[str, Any]], sizes: list[int]) -> tuple[list[dict[str, Any]], PowerLaw | None]:
    """Embedding time at every catalog size from the power law fitted on the small measured runs (labelled
    extrapolated; the measured exponent is ≈ 1, so this is the measured rate carried forward)."""
    emb = [r for r in rows if r["stage"] == "embed" and "seconds" in r]
    if len(emb) < 2:
        return [], None
    fit = fit_power_law([r["n"] for r in emb], [r["seconds"] for r in emb], bootstrap=0)
    rate = emb[-1]["texts_per_s"]
    return [{"stage": "embed", "n": n, "backend": None, "measured": False, "extrapolated": True,
             "seconds": float(fit.predict(n)), "texts_per_s_measured": rate} for n in sizes], fit


def fit_all(df: pd.DataFrame, backends: list[str], bootstrap: int, seed: int) -> dict[str, PowerLaw | None]:
    """`stage.metric` (or `index.<backend>.metric`) → power law over the measured rows."""
    fits: dict[str, PowerLaw | None] = {}
    measured = df[df["measured"] & df.get("error", pd.Series(None, index=df.index)).isna()]
    for stage, metrics in FITTED.items():
        groups = [(f"{stage}.{b}", measured[(measured["stage"] == stage) & (measured["backend"] == b)])
                  for b in backends] if stage == "index" else [(stage, measured[measured["stage"] == stage])]
        for key, g in groups:
            for m in metrics:
                if m not in g or g[m].notna().sum() < 2 or g["n"].nunique() < 2:
                    fits[f"{key}.{m}"] = None
                    continue
                try:
                    fits[f"{key}.{m}"] = fit_power_law(g["n"], g[m], bootstrap, seed)
                except DataError:
                    fits[f"{key}.{m}"] = None
    return fits


def headline_exponents(fits: dict[str, PowerLaw | None], backends: list[str]) -> dict[str, Any]:
    """Per stage the exponent of its main cost (time, or latency for serving stages), with its 95 % CI."""
    keys = {"ingest": "ingest.seconds", "resolve": "resolve.seconds", "embed": "embed.seconds",
            "hypergraph_build": "hypergraph.seconds", "hypergraph_query_p95": "hypergraph.query_p95_ms",
            "gat_rerank_p50": "gat.rerank_p50_ms", "cache_hit_ratio": "cache.hit_ratio"}
    for b in backends:
        keys[f"index_build.{b}"] = f"index.{b}.build_s"
        keys[f"search_p99.{b}"] = f"index.{b}.p99_us"
        keys[f"index_memory.{b}"] = f"index.{b}.rss_delta_bytes"
    out = {}
    for name, key in keys.items():
        f = fits.get(key)
        if f is not None:
            out[name] = {"exponent": f.exponent, "ci95": f.ci95, "metric": key, "r2": f.r2,
                         "sizes": [f.n_min, f.n_max]}
    return out


def run_scale(params: Params, out_dir: str | Path = ROOT / "reports", sizes: list[int] | None = None,
              max_n: int | None = None, stages: list[str] | None = None, backends: list[str] | None = None,
              ray: bool | None = None, progress: bool = True, resume: bool = False,
              work_dir: str | Path | None = None) -> dict[str, Any]:
    """Everything `mgw scale` does; returns the scale.json payload. `work_dir` (default data/interim/scale)
    holds the generator, rows.jsonl and the cells' temporary files."""
    from mgw.reporting import write_metrics

    sp = params.scale
    t_start = time.perf_counter()
    sizes = sizes_to_run(sp, sizes, max_n)
    stages = list(stages or sp.stages)
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise DataError(f"unknown scale stages {sorted(unknown)} (known: {', '.join(STAGES)})")
    backends = list(backends or sp.backends)
    out_dir = Path(out_dir)
    work = Path(work_dir) if work_dir else ROOT / "data" / "interim" / "scale"
    work.mkdir(parents=True, exist_ok=True)
    generator, info_path = work / "generator.npz", work / "generator.json"
    if resume and generator.exists() and info_path.exists():  # the fit the earlier rows were measured with
        gen_info = json.loads(info_path.read_text())
    else:
        gen, gen_info = synth.fit_generator(sp.embeddings, params.seed, params.embed.dim)
        synth.save_generator(gen, generator)
        info_path.write_text(json.dumps(gen_info))
    rows = measure(params, sizes, stages, backends, work, generator, progress, resume)
    for f in work.glob("items-*.parquet"):
        f.unlink()
    for d in work.glob("index-*"):  # the indexes saved for the GAT stage (hundreds of MB at 300K)
        shutil.rmtree(d, ignore_errors=True)
    emb_rows, emb_fit = extrapolate_embedding(rows, sizes)
    df = pd.DataFrame(rows + emb_rows)
    if "error" not in df:
        df["error"] = None
    fits = fit_all(df, backends, sp.bootstrap, params.seed)
    if emb_fit is not None:
        fits["embed.seconds"] = emb_fit
    largest = {b: df[(df["stage"] == "index") & (df["backend"] == b) & df["error"].isna()].sort_values("n").tail(1)
               for b in backends}
    meets = {b: bool(g["meets_recall"].iloc[0]) for b, g in largest.items() if len(g)}
    recall = {b: float(g["recall"].iloc[0]) for b, g in largest.items() if len(g)}
    limits = one_machine(fits, backends, meets, recall)
    ray_result = None
    if ray if ray is not None else sp.ray_overhead:
        from mgw.distributed.overhead import measure_overhead
        from mgw.distributed.session import RayUnavailableError

        try:
            ray_result = measure_overhead(params, progress=progress)
        except RayUnavailableError as e:  # the curves stand without it; the report says why the ratio is missing
            log.warning("scale: Ray overhead not measured: %s", e)
            ray_result = {"ratio": None, "error": str(e), "load_average_1m": os.getloadavg()[0]}
    table_dir = out_dir / "scale"
    table_dir.mkdir(parents=True, exist_ok=True)
    flat = df.drop(columns=[c for c in ("sweep", "parts_s") if c in df])
    flat.to_csv(table_dir / "results.csv", index=False)
    sweeps = [{"n": r["n"], "backend": r["backend"], **s} for r in rows if r.get("sweep") for s in r["sweep"]]
    pd.DataFrame(sweeps).to_csv(table_dir / "sweeps.csv", index=False)
    errors = [{k: r[k] for k in ("stage", "n", "backend", "error")} for r in rows if r.get("error")]
    payload = {
        "headline": {
            "max_titles_one_machine": {b: v["max_titles"] for b, v in limits.items()},
            "binding_constraint": {b: v["binding"] for b, v in limits.items()},
            "exponents": headline_exponents(fits, backends),
            "ray_overhead_ratio": ray_result["ratio"] if ray_result else None,
            "largest_n_measured": int(max(sizes)),
        },
        "one_machine": limits, "targets": TARGETS, "memory_wall_bytes": MEMORY_WALL_BYTES,
        "fits": {k: (v.to_dict() if v else None) for k, v in fits.items()},
        "rows": flat.replace({np.nan: None}).to_dict(orient="records"),
        "sweeps": sweeps, "errors": errors, "ray": ray_result,
        "generator": gen_info, "settings": {**sp.model_dump(), "sizes_run": sizes, "stages_run": stages,
                                            "backends_run": backends},
        "load_average_1m_at_end": os.getloadavg()[0], "wall_s": time.perf_counter() - t_start,
        "note": "absolute times measured on a shared 2-core machine under load; exponents and ratios are the "
                "robust part; embedding beyond the measured sizes and every limit outside the measured range "
                "are extrapolated (labelled)",
    }
    path = write_metrics("scale", payload, seed=params.seed, threads=sp.threads, metrics_dir=out_dir / "metrics")
    payload["path"] = str(path)
    return payload


def quick_run(out_dir: str | Path, seed: int = 42, sizes: tuple[int, ...] = (1000, 3000),
              stages: tuple[str, ...] = ("index", "gat", "cache"), backends: tuple[str, ...] = ("hnswlib",)
              ) -> dict[str, Any]:
    """A small run (default 1K/3K titles, index/GAT/cache, hnswlib, no Ray, in-process) for the notebook when
    the pipeline's scale.json is absent: the same code, seconds not minutes."""
    from mgw.config import load_params

    params = load_params(overrides={"seed": seed, "scale": {"queries": 30, "runs": 1, "cache_requests": 5000,
                                                            "bootstrap": 100, "isolate": False}})
    return run_scale(params, out_dir, sizes=list(sizes), stages=list(stages), backends=list(backends), ray=False,
                     progress=False, work_dir=Path(out_dir) / "work")

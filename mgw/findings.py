"""The "Findings" block each report opens with: 3–5 sentences generated from that report's metrics, naming the
decision a reader would take (which backend, which config, ship or not). Sentences whose numbers are absent are
left out, never filled in; a report whose metrics are missing says how to produce them."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mgw import claims as seed_claims
from mgw.config import ROOT

REPORTS = ROOT / "reports"
Metrics = dict[str, Any]


def _load(reports: Path, name: str) -> Metrics | None:
    p = reports / "metrics" / f"{name}.json"
    try:
        return json.loads(p.read_text()) if p.exists() else None
    except (OSError, json.JSONDecodeError):
        return None


def _safe(fn: Callable[[], str | None]) -> str | None:
    """One sentence, or None when its numbers are absent (a smaller run, or an older metrics file)."""
    try:
        return fn()
    except (KeyError, TypeError, IndexError, ValueError, AttributeError, ZeroDivisionError):
        return None


def _claims_sentence(report: str, reports: Path) -> str | None:
    rows = [r for r in seed_claims.table(reports) if r["report"] == report and r["verdict"] in
            (seed_claims.MET, seed_claims.NOT_MET)]
    if not rows:
        return None
    met = [r for r in rows if r["verdict"] == seed_claims.MET]
    missed = [f"{r['claim']} ({r['seed']}: measured {r['measured']})" for r in rows if r["verdict"] == seed_claims.NOT_MET]
    s = f"Of the seed's claims this report measures, {len(met)} of {len(rows)} hold on this machine"
    more = f" and {len(missed) - 3} more" if len(missed) > 3 else ""
    return s + (f"; not met: {'; '.join(missed[:3])}{more}." if missed else ".")


def _catalogs(m: dict[str, Metrics | None]) -> list[str | None]:
    ing, res, emb = m.get("ingest") or {}, m.get("resolve") or {}, m.get("embed") or {}
    return [
        _safe(lambda: f"Ingest read {ing['rows']:,} rows into {ing['items']:,} items and quarantined {ing['rejected']:,}"
                      f"{' with every line accounted for' if ing.get('accounted') else ''}."),
        _safe(lambda: _resolver(res)),
        _safe(lambda: "Embeddings: run MiniLM on {rt} — {x:.2f}× torch's throughput, mean cosine {c:.5f} and top-10 "
                      "overlap {o:.3f} against torch.".format(
                          rt=emb["headline"]["runtime"], x=emb["headline"]["throughput_ratio_vs_torch"],
                          c=emb["headline"]["mean_cosine_vs_torch"], o=emb["headline"]["top10_overlap_vs_torch"])),
        _safe(lambda: "int8 quantisation would be {x:.2f}× torch but its top-10 overlap falls to {o:.3f} (goal ≥ {g}), "
                      "so it stays off.".format(
                          x=emb["comparison"]["runtimes"]["onnx-int8"]["throughput_ratio_vs_torch"],
                          o=emb["comparison"]["runtimes"]["onnx-int8"]["top10_overlap_vs_torch"],
                          g=emb["goals"]["top10_overlap_vs_torch"])
                      if emb["comparison"]["runtimes"]["onnx-int8"]["top10_overlap_vs_torch"]
                      < emb["goals"]["top10_overlap_vs_torch"] else None),
    ]


def _resolver(res: Metrics) -> str:
    h = res["headline"]
    mf, sf = h["mgw_f1"], h["splink_f1"]
    if mf is None or sf is None or abs(mf - sf) < 0.005:
        pick = f"keep the configured {h['engine']} resolver (F1 mgw {_f3(mf)}, splink {_f3(sf)}: no real difference)"
    else:
        pick = f"use {'mgw' if mf > sf else 'splink'} (F1 {max(mf, sf):.3f} vs {min(mf, sf):.3f})"
    return (f"Entity resolution: {pick}; precision {h['gold_precision']:.3f}, recall {h['gold_recall']:.3f} on "
            f"{h['gold_pairs']} gold pairs, giving {res['entities']:,} canonical titles, "
            f"{res['multi_platform_entities']:,} on several platforms.")


def _f3(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}"


def _bench(m: dict[str, Metrics | None]) -> list[str | None]:
    b = m.get("bench") or {}

    def best() -> str:
        parts = []
        for ds, per in b["best_qps_at_recall"].items():
            ranked = sorted(((v["0.95"]["qps_single"], name, v["0.95"]["config"]) for name, v in per.items()
                             if v.get("0.95")), reverse=True)
            if ranked:
                qps, name, cfg = ranked[0]
                runner = f", {ranked[0][0] / ranked[1][0]:.1f}× the next ({ranked[1][1]})" if len(ranked) > 1 else ""
                parts.append(f"on {ds} pick {name} ({cfg}): {qps:,.0f} QPS single-thread at recall@10 ≥ 0.95{runner}")
        return "Backend: " + "; ".join(parts) + "."

    return [
        _safe(best),
        _safe(lambda: "The mgw adapter costs little: its worst QPS ratio to the raw library is {s:.3f} single-query "
                      "and {bt:.3f} batched (goals ≥ 0.95 / ≥ 0.98).".format(
                          s=b["headline"]["min_raw_ratio_single"], bt=b["headline"]["min_raw_ratio_batch"])),
        _safe(lambda: "Seed default (M=32, efC=200, efS=100): " + "; ".join(
            f"{ds} recall {v['recall']:.3f}, p50 {v['p50_us']:.0f} µs, {v['qps_single']:,.0f} QPS"
            for ds, v in b["seed_default"].items()) + "."),
    ]


def _tune(m: dict[str, Metrics | None]) -> list[str | None]:
    t = m.get("tune") or {}
    return [
        _safe(lambda: "Config: use {cfg} — recall@10 {r:.3f}, {x:.2f}× the seed default's QPS measured alternately in "
                      "the same run (goal ≥ {g:g}×: {ok}).".format(
                          cfg=t["chosen"]["config"], r=t["chosen"]["recall"], x=t["ratio"]["qps_tuned_over_default"],
                          g=t["ratio"]["goal"], ok="met" if t["ratio"]["meets_goal"] else "not met")),
        _safe(lambda: f"At the default's own recall ({t['ratio']['recall_default']:.3f}) the fastest trial, "
                      f"{t['equal_recall']['config']}, is {t['equal_recall']['qps_over_default']:.2f}× as fast."),
        _safe(lambda: f"{t['n_trials_total']} trials; {len(t['pareto_front'])} on the recall/QPS Pareto front."),
        _safe(lambda: None if t.get("chosen") else f"No trial met the recall target: {t['note']}"),
    ]


def _rerank(m: dict[str, Metrics | None]) -> list[str | None]:
    r = m.get("rerank") or {}

    def verdict() -> str:
        s = r["significance"]
        lo, hi = s["ci95"]
        sure = "significant" if lo > 0 or hi < 0 else "not significant"
        ship = "ship the GAT" if lo > 0 else "keep the simpler ranker"
        return (f"Decision: {ship} — GAT NDCG@10 minus {s['vs']}: {s['mean_diff']:+.4f} "
                f"[{lo:+.4f}, {hi:+.4f}] 95 % CI, {sure} (Wilcoxon p = {s['p_wilcoxon']:.3g}).")

    return [
        _safe(verdict),
        _safe(lambda: "NDCG@10: " + ", ".join(f"{k} {v['ndcg@10']['mean']:.4f}" for k, v in
                                             sorted(r["rankers"].items(), key=lambda kv: -kv[1]["ndcg@10"]["mean"])) + "."),
        _safe(lambda: f"The retriever's Recall@100 ({r['retriever_recall@100']:.3f}) is the ceiling any reranker reaches; "
                      f"interactions: {r['interactions']['source']}."),
        _safe(lambda: f"Reranking 100 candidates takes {r['latency']['rerank_ms']['p50']:.3f} ms p50."),
    ]


def _abtest(m: dict[str, Metrics | None]) -> list[str | None]:
    a = m.get("abtest") or {}
    return [
        _safe(lambda: " ".join(f"Decision for {arm} vs {a['offline']['control']}: {d['decision'].upper()} — {d['reason']}."
                               for arm, d in a["offline"]["decisions"].items())),
        _safe(lambda: f"The online A/A false-positive rate is {a['calibration']['online']['aa']['welch']['rate']:.3f} "
                      f"(nominal {a['offline'].get('alpha', 0.05)}), so the test is calibrated as used."),
        _safe(lambda: f"Source: {a['source']}, {a['offline']['n_users']:,} users."),
    ]


def _hypergraph(m: dict[str, Metrics | None]) -> list[str | None]:
    h, p, s = m.get("hypergraph") or {}, m.get("parse") or {}, m.get("search") or {}
    return [
        _safe(lambda: "Availability: keep the bitmap store — p95 {a:.3f} ms per boolean query on the real catalog vs "
                      "{x:.1f} ms for XGI, {c:.2f}× fewer edges than pairwise.".format(
                          a=h["real"]["latency"]["store"]["p95_ms"], x=h["real"]["latency"]["xgi"]["p95_ms"],
                          c=h["real"]["compression"]["availability"]["compression"])),
        _safe(lambda: "On {n:,} simulated titles a query takes {a:.2f} ms p95.".format(
            n=h["simulated"]["titles"], a=h["simulated"]["latency"]["store"]["p95_ms"])),
        _safe(lambda: f"The query parser gets {p['filters_exact_match']:.3f} of {p['queries']} labelled queries exactly right."),
        _safe(lambda: "End-to-end search ({rr}): p50 {p50:.2f} ms, p99 {p99:.2f} ms; without the query embedding p50 "
                      "{ex:.2f} ms (goal ≤ 10 ms p50).".format(rr=s["reranker"], p50=s["headline"]["p50_ms"],
                                                              p99=s["headline"]["p99_ms"],
                                                              ex=s["headline"]["p50_ms_excluding_embedding"])),
    ]


def _storage(m: dict[str, Metrics | None]) -> list[str | None]:
    st = m.get("storage") or {}
    return [
        _safe(lambda: "Crash safety: {k} SIGKILLs, {f} failures; {q:,} concurrent searches, {t} torn reads — "
                      "{v}.".format(k=st["crash"]["kills"], f=st["crash"]["failures"], q=st["concurrency"]["searches"],
                                    t=st["concurrency"]["torn_reads"],
                                    v="the transactional store is safe to use" if all(st["passed"].values())
                                    else "the store is NOT safe as configured")),
        _safe(lambda: f"The transactional path inserts at {st['throughput']['ratio_transactional_over_raw']:.2f}× the raw "
                      f"index rate ({st['throughput']['transactional_rows_per_s']:,.0f} rows/s)."),
        _safe(lambda: f"Recovery from a snapshot takes {st['throughput']['recovery']['open_from_snapshot_s']:.2f} s "
                      f"vs {st['throughput']['recovery']['open_with_full_rebuild_s']:.2f} s for a full rebuild."),
    ]


def _cache(m: dict[str, Metrics | None]) -> list[str | None]:
    c = m.get("cache") or {}
    hr = c.get("hit_rate") or {}

    def holds() -> str:
        w = hr["workloads"]
        total = sum(len(e["seed_config_hit_rate"]) for e in w.values())
        return (f"The seed's > {hr['target']:.0%} hit rate holds on {len(hr['target_holds'])} of {total} simulated "
                f"workloads with its L1+L2 configuration"
                + (f" ({', '.join(hr['target_holds'][:4])})." if hr["target_holds"] else "; size the cache from the "
                   "curves below instead of the seed's 1,000 entries."))

    def lat() -> str:
        lt = c["latency"]
        hit = lt.get("L2_hit_redis") or lt["L2_hit_inprocess"]
        return (f"A hit costs {lt['L1_hit']['p50_ms']:.3f} ms (L1) / {hit['p50_ms']:.3f} ms (L2) p50 and a miss "
                f"{lt['miss']['p50_ms']:.2f} ms, so caching pays wherever the hit rate is above "
                f"{hit['p50_ms'] / lt['miss']['p50_ms']:.1%}.")

    return [_safe(holds), _safe(lat)]


def _simulation(m: dict[str, Metrics | None], reports: Path) -> list[str | None]:
    ch = m.get("chaos") or {}

    def scen() -> str:
        parts = []
        for f in sorted((reports / "scenarios").glob("*.json")):
            r = json.loads(f.read_text())
            exp = r.get("expectations") or {}
            ok = sum(bool(e.get("pass")) for e in exp.values())
            parts.append(f"{f.stem} {ok}/{len(exp)}")
        return ("Seed scenarios (expectations met, at scale "
                f"{json.loads(next((reports / 'scenarios').glob('*.json')).read_text())['scale']}): "
                + ", ".join(parts) + ".") if parts else None

    def policy() -> str:
        pol = ch["policies"]
        best = max(pol, key=lambda k: (pol[k]["uptime"], -(pol[k].get("repair_compute_s") or 0)))
        return (f"Self-healing: use the {best} repair policy — SLO uptime {pol[best]['uptime']:.4%} vs "
                f"{pol['none']['uptime']:.4%} with no repair, MTTR {pol[best]['mttr_s']:.1f} s.")

    return [_safe(scen), _safe(policy)]


def _serving(m: dict[str, Metrics | None]) -> list[str | None]:
    sv = m["serve"]

    def overhead() -> str:
        h = sv["headline"]
        verdict = "within" if h["overhead_p50_ms"] <= 2.0 else "above"
        return (f"The HTTP service adds {h['overhead_p50_ms']:.2f} ms p50 over the in-process pipeline at one user "
                f"({verdict} the 2 ms goal) and sustains {h['max_qps']:.0f} QPS with no errors on this machine.")

    def robust() -> str:
        h = sv["headline"]
        return (f"It held {h['sse_clients_held']} SSE clients with every stream complete, answered "
                f"{h['fuzz_requests']} fuzzed requests with {h['fuzz_5xx']} 5xx, and gave {h['errors_5xx']} 5xx under "
                f"load and a Redis kill: robust enough to put in front of users; its throughput is the pipeline's, not HTTP's.")

    return [_safe(overhead), _safe(robust)]


def _scaling(m: dict[str, Metrics | None]) -> list[str | None]:
    sc = m["scale"]

    def limits() -> str:
        lim = sc["headline"]["max_titles_one_machine"]
        bind = sc["headline"].get("binding_constraint", {})
        parts = ", ".join(f"{b} {v:,} ({bind.get(b, '?')})" if v else f"{b} not reached" for b, v in lim.items())
        return (f"Largest catalog one 2-core machine serves within the seed's targets (measured up to "
                f"{sc['headline'].get('largest_n_measured', '?'):,} titles, extrapolated beyond): {parts}.")

    def exps() -> str:
        ex = sc["headline"]["exponents"]
        parts = ", ".join(f"{k} {v['exponent']:.2f}" for k, v in ex.items() if v and v.get("exponent") is not None)
        return f"Cost grows as n^b with b: {parts}."

    return [_safe(limits), _safe(exps)]


REPORT_FINDINGS: dict[str, tuple[tuple[str, ...], Callable[..., list[str | None]], str]] = {
    # report html: (metrics it reads, sentence builder, the command that produces them)
    "01_catalogs.html": (("ingest", "resolve", "embed"), _catalogs, "dvc repro embed"),
    "02_ann_benchmark.html": (("bench",), _bench, "dvc repro bench"),
    "03_hnsw_tuning.html": (("tune",), _tune, "dvc repro tune"),
    "04_reranker.html": (("rerank",), _rerank, "dvc repro train"),
    "05_ab_testing.html": (("abtest",), _abtest, "dvc repro abtest"),
    "06_hypergraph_search.html": (("hypergraph", "parse", "search"), _hypergraph, "dvc repro search"),
    "07_storage.html": (("storage",), _storage, "dvc repro storage"),
    "08_cache.html": (("cache",), _cache, "dvc repro cache"),
    "09_simulation.html": (("chaos",), _simulation, "dvc repro chaos scenarios"),
    "10_serving.html": (("serve",), _serving, "dvc repro serve_bench"),
    "11_scaling.html": (("scale",), _scaling, "dvc repro scale"),
}


def findings(report: str, reports: str | Path = REPORTS, max_sentences: int = 5) -> list[str]:
    """The report's findings: decision sentences from its metrics, then how its seed claims fare."""
    reports = Path(reports)
    if report not in REPORT_FINDINGS:  # a report without its own sentences yet: its seed claims only
        claim = _claims_sentence(report, reports)
        return [claim] if claim else [f"No findings are generated for {report} yet (mgw/findings.py)."]
    names, builder, how = REPORT_FINDINGS[report]
    loaded = {n: _load(reports, n) for n in names}
    if not any(loaded.values()):
        return [f"No pipeline results yet ({', '.join(f'reports/metrics/{n}.json' for n in names)} absent): "
                f"run `{how}` and re-render; the numbers below come from a small labelled demo run."]
    args = (loaded, reports) if builder is _simulation else (loaded,)
    sentences = [s for s in builder(*args) if s]
    claim = _claims_sentence(report, reports)
    out = sentences[: max_sentences - (1 if claim else 0)] + ([claim] if claim else [])
    return out or [f"The metrics files exist but hold none of the headline numbers; re-run `{how}`."]


def markdown(report: str, reports: str | Path = REPORTS, run_note: str | None = None) -> str:
    """The block as Markdown: a heading, the sentences, and what run produced them."""
    body = "\n".join(f"- {s}" for s in findings(report, reports))
    return f"## Findings\n\n{body}" + (f"\n\n*{run_note}*" if run_note else "")

"""`reports/index.html`: one page linking every executed notebook, with each area's headline numbers and the
machine they were measured on. Numbers are read from `reports/metrics/*.json`; nothing is typed in here —
a missing file or key shows as "not run"."""
from __future__ import annotations

import argparse
import html
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mgw import claims as seed_claims
from mgw.config import ROOT

REPORTS = ROOT / "reports"
MISSING = "not run"


def _rerank_task(h: dict) -> str:
    """One task of rerank.json's headline as a line."""
    return (f"{h['candidate_recall_at_100']:.3f} / {h['gat_ndcg10']:.4f} / {h['best_baseline']} "
            f"{h['best_baseline_ndcg10']:.4f} (×{h['gat_over_best']:.3f}, Holm p = {h['p_holm']:.3g})")


def pick(d: Any, path: str) -> Any:
    """`pick(m, "a.b.0.c")` → m["a"]["b"][0]["c"], or None when any step is missing."""
    for part in path.split("."):
        if isinstance(d, dict) and part in d:
            d = d[part]
        elif isinstance(d, list) and part.lstrip("-").isdigit() and -len(d) <= int(part) < len(d):
            d = d[int(part)]
        else:
            return None
    return d


def fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)) and spec:
        return format(v, spec)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "<br>".join(f"<b>{html.escape(str(k))}</b>: {fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return html.escape(", ".join(str(x) for x in v))
    return html.escape(str(v))


def _seed(claim_id: str) -> str:
    return f"{seed_claims.value(claim_id):g}"


# area → (title, notebook html, metrics names, [(label, metrics name, path or function, format)])
Row = tuple[str, str, "str | Callable[[dict], Any]", str]
AREAS: list[tuple[str, str, list[Row]]] = [
    ("Catalogs: ingest and entity resolution", "01_catalogs.html", [
        ("rows read / items / quarantined", "ingest", lambda m: f"{m['rows']} / {m['items']} / {m['rejected']}", ""),
        ("every row accounted for", "ingest", "accounted", ""),
        ("canonical entities (multi-platform)", "resolve",
         lambda m: f"{m['entities']} ({m['multi_platform_entities']})", ""),
        ("resolver precision / recall, series recall (engine)", "resolve",
         lambda m: "{:.3f} / {:.3f}, {:.3f} ({}; {} pairs: {})".format(
             m["headline"]["gold_precision"], m["headline"]["gold_recall"], m["headline"]["series_recall"],
             m["headline"]["engine"], m["headline"]["gold_pairs"], m["evaluation"]["kind"]), ""),
        ("resolver F1: mgw / splink", "resolve",
         lambda m: " / ".join("-" if v is None else f"{v:.3f}" for v in (m["headline"]["mgw_f1"], m["headline"]["splink_f1"])), ""),
        ("embedding throughput (texts/s)", "embed", "texts_per_s", ".1f"),
        ("embedding runtime vs torch: throughput ×, mean cosine, top-10 overlap", "embed",
         lambda m: "{runtime}: {throughput_ratio_vs_torch:.2f}×, {mean_cosine_vs_torch:.5f}, "
                   "{top10_overlap_vs_torch:.3f}".format(**m["headline"]), ""),
    ]),
    ("ANN backends and benchmark", "02_ann_benchmark.html", [
        ("best single-thread QPS at recall@10 ≥ 0.95", "bench",
         lambda m: {ds: {b: round(v["0.95"]["qps_single"]) for b, v in per.items() if v.get("0.95")}
                    for ds, per in m["best_qps_at_recall"].items()}, ""),
        ("min mgw / raw QPS ratio, single / batch (goals ≥ 0.95 / ≥ 0.98)", "bench",
         lambda m: f"{m['headline']['min_raw_ratio_single']:.3f} / {m['headline']['min_raw_ratio_batch']:.3f}", ""),
        ("mgw / raw single-thread QPS ratio", "bench",
         lambda m: {ds: {c: round(v["ratio_qps_single"], 2) for c, v in per.items()} for ds, per in m["raw_ratios"].items()}, ""),
        ("seed default M=32/efC=200/efS=100: recall, QPS, p50 µs, MB/100K", "bench",
         lambda m: {ds: [round(v["recall"], 4), round(v["qps_single"]), round(v["p50_us"], 1), round(v["mb_per_100k"], 1)]
                    for ds, v in m["seed_default"].items()}, ""),
    ]),
    ("HNSW tuning", "03_hnsw_tuning.html", [
        ("chosen config (recall)", "tune", lambda m: f"{m['chosen']['config']} (recall {m['chosen']['recall']:.3f})", ""),
        ("tuned / default QPS (goal ≥ 2)", "tune", "ratio.qps_tuned_over_default", ".2f"),
    ]),
    ("GAT reranker", "04_reranker.html", [
        ("interactions (split)", "rerank",
         lambda m: f"{m['interactions']['source']}: {m['interactions']['users']} users ({m['headline']['split']} split)", ""),
        ("verdict", "rerank", "verdict", ""),
        ("recommend: union candidate Recall@100 / GAT NDCG@10 / best baseline", "rerank",
         lambda m: _rerank_task(m["headline"]["recommend"]), ""),
        ("search: pipeline candidate recall / GAT NDCG@10 / best baseline", "rerank",
         lambda m: _rerank_task(m["headline"]["search"]), ""),
        ("NDCG@10 per ranker (recommend)", "rerank",
         lambda m: {k: round(v["ndcg@10"]["mean"], 4) for k, v in m["tasks"]["recommend"]["rankers"].items()}, ""),
        (f"rerank p50, 100 candidates, known / unknown user (ms; goal ≤ 1, seed claims {_seed('s5.1-rerank')})", "rerank",
         lambda m: f"{m['headline']['rerank_p50_ms']:.3f} / {m['headline']['rerank_unknown_user_p50_ms']:.3f}", ""),
    ]),
    ("A/B testing", "05_ab_testing.html", [
        ("decision", "abtest", lambda m: {t: f"{d['decision']}: {d['reason']}" for t, d in m["offline"]["decisions"].items()}, ""),
        ("online A/A false-positive rate (nominal 0.05)", "abtest", "calibration.online.aa.welch.rate", ".3f"),
    ]),
    ("Hypergraph and search", "06_hypergraph_search.html", [
        ("boolean query p95, real catalog (ms) vs XGI", "hypergraph",
         lambda m: f"{m['real']['latency']['store']['p95_ms']:.3f} vs {m['real']['latency']['xgi']['p95_ms']:.1f}", ""),
        ("boolean query p95, simulated titles (ms)", "hypergraph",
         lambda m: f"{m['simulated']['latency']['store']['p95_ms']:.2f} on {m['simulated']['titles']:,} titles", ""),
        (f"compression vs clique expansion (seed claims {_seed('s1.1.3-compression')}×)", "hypergraph", "real.compression.availability.compression", ".2f"),
        ("parser exact-match accuracy", "parse", lambda m: f"{m['filters_exact_match']:.3f} on {m['queries']} queries", ""),
        ("search p50 / p99 end to end (ms; goal p50 ≤ 10, p99 ≤ 3 × p50)", "search",
         lambda m: f"{m['headline']['p50_ms']:.2f} / {m['headline']['p99_ms']:.2f} ({m['reranker']})", ""),
        ("search p50 without embedding (ms; goal ≤ 1.5)", "search", "headline.p50_ms_excluding_embedding", ".2f"),
        ("query embedding p50 (ms; goal ≤ 5)", "search", "headline.embed_query_p50_ms", ".2f"),
    ]),
    ("Storage", "07_storage.html", [
        ("crash test: kills / failures", "storage", lambda m: f"{m['crash']['kills']} / {m['crash']['failures']}", ""),
        ("concurrency: searches / torn reads", "storage",
         lambda m: f"{m['concurrency']['searches']} / {m['concurrency']['torn_reads']}", ""),
        ("transactional / raw insert throughput", "storage", "throughput.ratio_transactional_over_raw", ".2f"),
    ]),
    ("Cache", "08_cache.html", [
        (f"workloads where the seed's > {seed_claims.value('s2.1.3-hit-rate'):.0%} hit rate holds", "cache", "hit_rate.target_holds", ""),
        (f"p50 ms: L1 hit / L2 hit in process / L2 hit Redis / miss (seed: hit {_seed('s5.1-cache-hit')}, "
         f"miss {_seed('s5.1-cache-miss')})", "cache",
         lambda m: " / ".join(f"{m['latency'][k]['p50_ms']:.3f}" if m["latency"].get(k) else "—"
                              for k in ("L1_hit", "L2_hit_inprocess", "L2_hit_redis", "miss")), ""),
    ]),
    ("Serving", "10_serving.html", [
        ("server overhead p50 over in-process at 1 user (ms; goal ≤ 2)", "serve", "headline.overhead_p50_ms", ".3f"),
        ("max QPS with no errors (seed claims 10,000)", "serve", "headline.max_qps", ",.0f"),
        ("SSE clients held with every stream complete (goal 2,000 for 60 s)", "serve",
         lambda m: f"{m['headline']['sse_clients_held']:,} of {m['headline']['sse_clients_tried']:,} for "
                   f"{m['headline']['sse_hold_s']:.0f} s", ""),
        ("5xx in load + Redis fault / fuzz requests (5xx)", "serve",
         lambda m: f"{m['headline']['errors_5xx']} / {m['headline']['fuzz_requests']:,} "
                   f"({m['headline']['fuzz_5xx']})", ""),
    ]),
    ("Scenarios and self-healing", "09_simulation.html", [
        ("scenarios", "_scenarios", lambda m: m, ""),
        ("SLO uptime per repair policy", "chaos", lambda m: {k: round(v["uptime"], 6) for k, v in m["policies"].items()}, ""),
    ]),
    ("Scaling and scale-out", "11_scaling.html", [
        ("one machine ends at (titles, per backend; binding constraint)", "scale",
         lambda m: {b: f"{n:,} ({m['headline']['binding_constraint'][b]})" if n else "not reached"
                    for b, n in m["headline"]["max_titles_one_machine"].items()}, ""),
        ("exponents (cost ∝ n^b)", "scale",
         lambda m: {k: round(v["exponent"], 2) for k, v in m["headline"]["exponents"].items()}, ""),
        ("Ray / single-process wall time", "scale", "headline.ray_overhead_ratio", ""),
    ]),
]


def _scenario_summary(reports: Path) -> dict[str, Any] | None:
    out = {}
    for f in sorted((reports / "scenarios").glob("*.json")):
        r = json.loads(f.read_text())
        exp = r.get("expectations") or {}
        failed = [k for k, e in exp.items() if not e.get("pass")]
        out[f.stem] = (f"{len(exp) - len(failed)}/{len(exp)} expectations pass"
                       + (f" (fail: {', '.join(failed)})" if failed else ""))
    return out or None


def _value(metrics: dict[str, Any], getter: "str | Callable[[dict], Any]") -> Any:
    if callable(getter):
        try:
            return getter(metrics)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError):
            return None
    return pick(metrics, getter)


VERDICT_COLOURS = {seed_claims.MET: "#1a7f37", seed_claims.NOT_MET: "#b3261e", seed_claims.UNMEASURABLE: "#666",
                   seed_claims.NOT_RUN: "#8a6d00"}


def claims_html(reports: Path = REPORTS) -> str:
    """The seed's claims table (mgw/claims.py): figure, measurement, machine, verdict with its reason, report link."""
    rows = seed_claims.table(reports)
    n = seed_claims.counts(rows)
    summary = ", ".join(f"{v} {k}" for k, v in n.items() if v)
    out = [f"<h2>The seed's claims, measured</h2><p>{len(rows)} figures from seed §1.1, §1.1.3, §1.4, §2.1.3 and §5 "
           f"(single source: <code>mgw/claims.py</code>; also <code>mgw claims</code>): {html.escape(summary)}.</p>",
           "<table class='claims'><tr><th>§</th><th>claim</th><th>seed</th><th>measured</th><th>verdict</th>"
           "<th>measured on</th><th>report</th></tr>"]
    for r in rows:
        colour = VERDICT_COLOURS[r["verdict"]]
        why = f"<br><small>{html.escape(r['reason'])}</small>" if r["reason"] else ""
        seed = html.escape(r["seed"]) + (f"<br><small>target {html.escape(r['target'])}</small>" if r["target"] else "")
        note = f"<br><small>{html.escape(r['note'])}</small>" if r["note"] else ""
        link = (f'<a href="{html.escape(r["report"])}">{html.escape(r["report"].removesuffix(".html"))}</a>'
                if r["report"] and (reports / r["report"]).exists() else html.escape(r["report"]))
        out.append(f"<tr><td>{html.escape(r['section'])}</td><td>{html.escape(r['claim'])}{note}</td><td>{seed}</td>"
                   f"<td>{html.escape(r['measured'] or '—')}</td>"
                   f"<td style='color:{colour};font-weight:bold'>{html.escape(r['verdict'])}{why}</td>"
                   f"<td>{html.escape(r['machine'])}</td><td>{link}</td></tr>")
    out.append("</table>")
    return "".join(out)


def claims_text(reports: Path = REPORTS, width: int = 34) -> str:
    """`mgw claims`: the same table as reports/index.html, for the terminal."""
    rows = seed_claims.table(reports)
    lines = [f"{'§':<10} {'claim':<{width}} {'seed':<16} {'measured':<28} verdict"]
    for r in rows:
        claim = r["claim"] if len(r["claim"]) <= width else r["claim"][: width - 1] + "…"
        measured = r["measured"] or "—"
        measured = measured if len(measured) <= 28 else measured[:27] + "…"
        lines.append(f"{r['section'][:10]:<10} {claim:<{width}} {r['seed'][:16]:<16} {measured:<28} {r['verdict']}"
                     + (f" ({r['reason']})" if r["reason"] else "")
                     + (f" [{r['report']}]" if r["report"] and r["verdict"] in (seed_claims.MET, seed_claims.NOT_MET) else ""))
    machines = sorted({r["machine"] for r in rows if r["machine"]})
    n = seed_claims.counts(rows)
    lines.append("")
    lines.append(", ".join(f"{v} {k}" for k, v in n.items() if v) + (f"; measured on {'; '.join(machines)}" if machines else ""))
    return "\n".join(lines)


def build_index(reports: Path = REPORTS) -> str:
    loaded: dict[str, Any] = {}
    for f in (reports / "metrics").glob("*.json"):
        loaded[f.stem] = json.loads(f.read_text())
    scen = _scenario_summary(reports)
    if scen:
        loaded["_scenarios"] = scen
    parts = [f"<h1>mgw reports</h1><p>Built {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from "
             f"<code>reports/metrics/*.json</code>. Every number below was measured by the pipeline stage that wrote "
             f"it, on the machine named beside it.</p>", claims_html(reports)]
    for title, page, rows in AREAS:
        link = f'<a href="{page}">{html.escape(page)}</a>' if (reports / page).exists() else f"{html.escape(page)} (not rendered)"
        parts.append(f"<h2>{html.escape(title)}</h2><p>Report: {link}</p><table><tr><th>measure</th><th>value</th><th>measured on</th></tr>")
        for label, name, getter, spec in rows:
            m = loaded.get(name)
            val = _value(m, getter) if m is not None else None
            prov = (m or {}).get("_provenance", {}) if isinstance(m, dict) else {}
            mach = prov.get("machine", {})
            where = f"{mach.get('cpu', '')} · {mach.get('cores', '')} cores · {prov.get('generated_at', '')}" if mach else ""
            parts.append(f"<tr><td>{html.escape(label)}</td><td>{fmt(val, spec)}</td><td>{html.escape(where)}</td></tr>")
        parts.append("</table>")
    style = ("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
             "width:100%}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
             "td:nth-child(3){color:#666;font-size:80%}table.claims td:nth-child(3),table.claims td:nth-child(6)"
             "{color:#666;font-size:80%}table.claims td:nth-child(2),table.claims td:nth-child(4){color:inherit;"
             "font-size:inherit}small{color:#666}</style>")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>mgw reports</title>{style}</head><body>{''.join(parts)}</body></html>"


def write_index(reports: Path = REPORTS, out: Path | None = None) -> Path:
    out = out or reports / "index.html"
    out.write_text(build_index(reports))
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report-index", help="write reports/index.html: links + headline numbers of every area")
    p.add_argument("--reports", default=str(REPORTS))
    p.set_defaults(func=lambda a: print(write_index(Path(a.reports))) or 0)
    c = sub.add_parser("claims", help="the seed's claims next to this machine's measurements (same table as reports/index.html)")
    c.add_argument("--reports", default=str(REPORTS), help="reports directory to read (default: reports/)")
    c.add_argument("--json", action="store_true", help="print the rows as JSON")
    c.set_defaults(func=_print_claims)


def _print_claims(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(seed_claims.table(Path(args.reports)), indent=2, ensure_ascii=False))
    else:
        print(claims_text(Path(args.reports)))
    return 0

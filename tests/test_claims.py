"""mgw/claims.py: the single table of the seed's figures — coverage of the seed, verdict rules, and the views
(`mgw claims`, reports/index.html) that read it."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mgw import claims
from mgw.config import ROOT
from mgw.report_index import build_index, claims_text

from conftest import IN_CI

SPEC = ROOT.parent / "shared" / "spec" / "ruvector-spec.md"


@pytest.fixture(scope="module")
def spec_text() -> str:
    if not SPEC.exists():
        if IN_CI:
            pytest.fail(f"CI=true but the seed spec is absent at {SPEC}")
        pytest.skip(f"seed spec absent at {SPEC}")
    return SPEC.read_text()


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    nxt = re.search(r"^#{1,4} ", text[start + len(heading):], re.M)
    return text[start: start + len(heading) + (nxt.start() if nxt else len(text))]


def _numbers(s: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"(?<![\w@.])\d[\d,]*(?:\.\d+)?", s)]


def _figures(section: str) -> set[float]:
    """Every figure a claim of `section` states (value, range bounds), in the seed's unit (fractions as %)."""
    out = set()
    for c in claims.CLAIMS:
        if c.section == section:
            for v in (c.value, c.lo, c.hi):
                if v is not None:
                    out |= {round(v, 4), round(v * 100, 4)}
    return out


def test_every_section5_table_figure_is_a_claim(spec_text):
    """§5.1–5.3: the 'Measured' column of every row is a claim of that section."""
    for sub in ("5.1", "5.2", "5.3"):
        body = _section(spec_text, f"### {sub} ")
        rows = [r for r in body.splitlines() if r.startswith("|") and "---" not in r and "Measured" not in r]
        assert len(rows) >= 3
        for row in rows:
            measured = row.split("|")[3]
            for v in _numbers(measured):
                assert round(v, 4) in _figures(f"§{sub}"), f"seed §{sub} {row.strip()} has no claim"


def test_every_section111_and_113_figure_is_a_claim(spec_text):
    body = _section(spec_text, "#### 1.1.1 ")
    perf = body[body.index("**Performance Characteristics:**"):]
    figs = [v for v in _numbers(perf) if v != 100]  # "per 100K"
    assert figs and all(round(v, 4) in _figures("§1.1.1") for v in figs), figs
    hyper = _section(spec_text, "#### 1.1.3 ")
    assert 3.7 in _numbers(hyper) and 3.7 in _figures("§1.1.3") and 15 in _figures("§1.1.3")


def test_every_scenario_expectation_is_a_claim(spec_text):
    """§1.4.x expectedResults: each bound is a claim of that section."""
    for sub in ("1.4.1", "1.4.2", "1.4.3"):
        body = _section(spec_text, f"#### {sub} ")
        block = body[body.index("expectedResults"):]
        bounds = [float(x) for x in re.findall(r"(?:min|max): ([\d.]+)", block)]
        assert bounds
        for v in bounds:
            assert round(v, 4) in _figures(f"§{sub}"), f"seed §{sub} bound {v} has no claim"


def test_cache_section_claims(spec_text):
    body = _section(spec_text, "#### 2.1.3 ")
    assert ">80%" in body and 0.8 in _figures("§2.1.3") and 1000 in _figures("§2.1.3")


def test_every_claim_names_how_it_is_measured_or_why_not():
    for c in claims.CLAIMS:
        assert c.section and c.what and c.report, c
        if c.unmeasurable:
            continue
        assert c.source.endswith(".json") and c.keys and c.stage, c
        assert c.rule == "range" and (c.lo is not None or c.hi is not None) or c.value is not None, c


def test_missing_files_and_keys_say_not_measured(tmp_path):
    rows = claims.table(tmp_path)
    assert {r["verdict"] for r in rows} == {claims.NOT_RUN, claims.UNMEASURABLE}
    serve = next(r for r in rows if r["id"] == "s5.2-concurrent-users")
    assert "serve.json absent" in serve["reason"] and "serve_bench" in serve["reason"]
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "serve.json").write_text(json.dumps({"headline": {}}))
    serve = claims.evaluate(claims.get("s5.2-concurrent-users"), tmp_path)
    assert serve["verdict"] == claims.NOT_RUN and "headline.sse_clients_held" in serve["reason"]


def _write(tmp_path: Path, name: str, payload: dict) -> None:
    (tmp_path / "metrics").mkdir(exist_ok=True)
    (tmp_path / "metrics" / name).write_text(json.dumps(payload))


def test_star_keys_must_hold_on_every_dataset_and_machine_is_shown(tmp_path):
    prov = {"machine": {"cpu": "TestCPU", "cores": 2}}
    _write(tmp_path, "bench.json", {"_provenance": prov, "seed_default": {
        "a": {"p50_us": 50.0, "recall": 0.99}, "b": {"p50_us": 80.0, "recall": 0.97}}})
    p50 = claims.evaluate(claims.get("s1.1.1-p50"), tmp_path)
    assert p50["verdict"] == claims.NOT_MET and "b" in p50["reason"] and p50["values"] == {"a": 50.0, "b": 80.0}
    assert p50["machine"] == "TestCPU, 2 cores"
    assert claims.evaluate(claims.get("s1.1.1-recall"), tmp_path)["verdict"] == claims.MET
    sub100 = claims.evaluate(claims.get("exec-sub100us"), tmp_path)
    assert sub100["verdict"] == claims.MET


def test_fallback_key_and_range_rule(tmp_path):
    _write(tmp_path, "rerank.json", {"latency": {"rerank_ms": {"p50": 4.0}}})
    r = claims.evaluate(claims.get("s5.1-rerank"), tmp_path)
    assert r["verdict"] == claims.NOT_MET and r["key"] == "latency.rerank_ms.p50"
    _write(tmp_path, "rerank.json", {"headline": {"rerank_p50_ms": 0.5}, "latency": {"rerank_ms": {"p50": 4.0}}})
    assert claims.evaluate(claims.get("s5.1-rerank"), tmp_path)["verdict"] == claims.MET
    c = claims.get("s1.4.1-p50")
    assert c.holds(50) and c.holds(70) and not c.holds(49.9) and not c.holds(71)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_rules_are_monotone(x):
    lower, higher = claims.get("s5.1-cache-miss"), claims.get("s5.2-qps")
    assert lower.holds(x) == (x <= lower.value)
    assert higher.holds(x) == (x >= higher.value)


def test_code_reads_the_single_source():
    """No seed figure is typed into code or notebooks outside mgw/claims.py."""
    pattern = re.compile(r"16[,_]?393|207[,_]?731|\b0\.968\b|\b0\.979\b|\b0\.997\b|SEED_CLAIMS\s*=\s*[\[{]")
    hits = []
    for path in list((ROOT / "mgw").rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb")):
        if path.name == "claims.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits)


def test_index_opens_with_the_claims_table_and_cli_prints_it(tmp_path):
    _write(tmp_path, "bench.json", {"seed_default": {"synth": {"p50_us": 40.0, "qps_single": 20000.0}}})
    page = build_index(tmp_path)
    assert page.index("The seed's claims, measured") < page.index("<h2>Catalogs")
    assert "not measurable here" in page and "not measured in this run" in page
    text = claims_text(tmp_path)
    assert "search latency p50" in text and " met" in text
    out = subprocess.run([sys.executable, "-m", "mgw", "claims", "--reports", str(tmp_path), "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    rows = json.loads(out.stdout)
    assert len(rows) == len(claims.CLAIMS) and next(r for r in rows if r["id"] == "s5.2-qps")["verdict"] == claims.MET

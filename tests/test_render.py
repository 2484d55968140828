"""Rendered reports lead with findings and show no code, prompts or stderr (mgw.reporting.render_notebook)."""
import json
import re

import nbformat
import pytest

from mgw import findings
from mgw.config import ROOT
from mgw.reporting import render_notebook, strip_stderr

NOTEBOOK = ROOT / "notebooks" / "09_simulation.ipynb"  # its demo run is the smallest of the nine


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render")
    params = {"scenarios_dir": str(out / "no-scenarios"), "chaos_path": str(out / "no-chaos.json")}
    html = render_notebook(NOTEBOOK, out / "09_simulation.html", parameters=params)
    return html.read_text(), nbformat.read(str(out / "09_simulation.ipynb"), as_version=4)


@pytest.mark.slow
def test_report_has_no_input_cells_and_no_stderr(rendered):
    page, executed = rendered
    code_cells = re.findall(r'<div class="(jp-Cell jp-CodeCell[^"]*)"', page)
    assert code_cells and all("jp-mod-noInput" in c for c in code_cells)  # no code cell shows its input
    assert not re.search(r'class="[^"]*(jp-InputArea-editor|jp-InputPrompt)', page)  # no code, no prompts
    assert "import pandas" not in page and "load_or_compute(" not in page
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page  # (the stylesheet quotes it with \')
    assert not re.search(r"Warning:|Traceback|it/s\]", page)
    assert "Findings" in page
    assert page.index("Findings") < page.index("Scenario results")  # findings first
    # the executed notebook really ran code (outputs exist), so the absence above is the exporter's doing
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")


@pytest.mark.slow
def test_with_code_keeps_the_input(tmp_path, rendered):
    _, executed = rendered
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(exclude_input=False).from_notebook_node(executed)
    assert re.search(r'class="[^"]*jp-InputArea-editor', body) and "show_findings" in body


def test_strip_stderr_removes_only_stderr():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="TqdmWarning: IProgress not found"),
                    nbformat.v4.new_output("stream", name="stdout", text="kept")]
    nb.cells.append(cell)
    assert strip_stderr(nb) == 1 and [o["name"] for o in nb.cells[0].outputs] == ["stdout"]


def test_findings_name_the_decision_from_metrics(tmp_path):
    (tmp_path / "metrics").mkdir()
    assert "run `dvc repro tune`" in findings.findings("03_hnsw_tuning.html", tmp_path)[0]
    (tmp_path / "metrics" / "tune.json").write_text(json.dumps({
        "chosen": {"config": {"M": 16, "efConstruction": 80, "efSearch": 48}, "recall": 0.961},
        "ratio": {"qps_tuned_over_default": 2.4, "goal": 2.0, "meets_goal": True, "recall_default": 0.99},
        "equal_recall": None, "n_trials_total": 24, "pareto_front": [1, 2, 3]}))
    out = findings.findings("03_hnsw_tuning.html", tmp_path)
    assert out[0].startswith("Config: use") and "2.40×" in out[0] and "met" in out[0]
    assert 2 <= len(out) <= 5 and "24 trials" in " ".join(out)
    assert set(findings.REPORT_FINDINGS) == {p.name.replace(".ipynb", ".html")
                                            for p in (ROOT / "notebooks").glob("*.ipynb")}


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("0*.ipynb")), ids=lambda p: p.stem)
def test_notebook_opens_with_setup_and_findings(path):
    """After the title and the papermill parameters, the first cell styles the output and shows the findings."""
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    first = code[1].source
    assert "setup()" in first and f'show_findings("{path.stem}.html")' in first

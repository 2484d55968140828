"""`mgw doctor` (checks with fixes) and mgw.notebook's helpers (the one demo fallback, setup)."""
import json
import subprocess
import sys

from mgw import doctor, notebook
from mgw.config import ROOT


def test_doctor_reports_every_area_and_a_fix_for_each_problem(monkeypatch, tmp_path):
    monkeypatch.setenv("MGW_DATA_DIR", str(tmp_path))  # an empty data dir: a warning with its fix
    checks = doctor.run_checks()
    names = {c.name for c in checks}
    assert {"python", "torch", "embedding model", "real data", "redis-server", "PostgreSQL", "free disk",
            "threads"} <= names
    data = next(c for c in checks if c.name == "real data")
    assert data.status == doctor.WARN and "0/7" in data.detail and "MGW_DATA_DIR" in data.fix
    assert all(c.fix for c in checks if c.status != doctor.OK)
    text = doctor.render(checks, quiet=True)
    assert "real data" in text and "fix:" in text and "[  ok]" not in text


def test_doctor_cli_exit_code():
    out = subprocess.run([sys.executable, "-m", "mgw", "doctor", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode in (0, 1) and "checks:" in out.stdout
    assert (out.returncode == 1) == ("FAIL" in out.stdout)


def test_load_or_compute_loads_or_labels_the_demo(tmp_path):
    calls = []
    p = tmp_path / "m.json"
    data, note = notebook.load_or_compute(p, lambda: calls.append(1) or {"demo": True}, how="dvc repro x", demo="tiny")
    assert data == {"demo": True} and calls == [1]
    assert note.startswith("DEMO:") and "dvc repro x" in note and str(p) in note and "tiny" in note
    p.write_text(json.dumps({"real": 1}))
    assert notebook.load_or_compute(p, lambda: 1 / 0, how="x", demo="y") == ({"real": 1}, None)
    q = tmp_path / "other.parquet"
    both, note = notebook.load_or_compute([p, q], lambda: "demo", how="x", demo="y", load=lambda a, b: (a, b))
    assert both == "demo" and "other.parquet" in note and "m.json" not in note  # names only what is missing
    q.write_text("")
    assert notebook.load_or_compute([p, q], lambda: 1 / 0, how="x", demo="y", load=lambda a, b: (a.name, b.name)) \
        == (("m.json", "other.parquet"), None)


def test_setup_applies_the_one_style_and_silences_warnings(monkeypatch):
    import logging
    import warnings

    import matplotlib as mpl

    from mgw import plotstyle

    monkeypatch.setenv("TQDM_DISABLE", "1")  # restored afterwards, like the logger levels below
    names = ["", "lightning", "pytorch_lightning", "lightning.pytorch", "optuna", "splink", "numba"]
    levels = {n: logging.getLogger(n).level for n in names}
    try:
        with warnings.catch_warnings():  # restores the filters afterwards
            notebook.setup()
            assert warnings.filters[0][0] == "ignore" and warnings.filters[0][2] is Warning
        assert logging.getLogger().level == logging.ERROR
    finally:  # setup() is for a notebook kernel: leave this test process's logging as it was
        for n, lvl in levels.items():
            logging.getLogger(n).setLevel(lvl)
    assert mpl.rcParams["axes.spines.top"] is False and mpl.rcParams["font.size"] == plotstyle.RC["font.size"]
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"][0] == plotstyle.PALETTE[0]

import json

from mgw.report_index import MISSING, build_index, pick, write_index


def test_pick_walks_dicts_and_lists():
    d = {"a": {"b": [{"c": 3}]}}
    assert pick(d, "a.b.0.c") == 3 and pick(d, "a.x") is None and pick(d, "a.b.5") is None


def test_index_shows_measured_numbers_machine_and_missing(tmp_path):
    (tmp_path / "metrics").mkdir()
    prov = {"machine": {"cpu": "TestCPU", "cores": 2}, "generated_at": "2026-01-01T00:00:00+00:00"}
    (tmp_path / "metrics" / "ingest.json").write_text(json.dumps(
        {"rows": 10, "items": 9, "rejected": 1, "accounted": True, "_provenance": prov}))
    (tmp_path / "01_catalogs.html").write_text("<html></html>")
    page = build_index(tmp_path)
    assert "10 / 9 / 1" in page and "TestCPU" in page and 'href="01_catalogs.html"' in page
    assert MISSING in page and "(not rendered)" in page  # other areas have no metrics or report yet
    assert write_index(tmp_path).exists()

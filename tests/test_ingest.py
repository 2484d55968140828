import json

import pytest

from mgw.config import load_params
from mgw.data import ingest as ing
from mgw.data.buffer import InputBuffer
from mgw.data.connectors.simulated import simulated_catalog, simulated_truth
from mgw.data.rows import normalize_record

GOOD = {"show_id": "s1", "type": "Movie", "title": "Heat", "director": "Michael Mann", "cast": "Al Pacino, Robert De Niro",
        "country": "United States", "date_added": "25-Sep-21", "release_year": "1995", "rating": "R",
        "duration": "170 min", "listed_in": "Action & Adventure, Dramas", "description": "Cops and robbers.", "OTT": "Netflix"}


def test_good_row_normalizes():
    item = normalize_record("netflix", 1, GOOD)
    assert item.id == "netflix:s1" and item.type == "movie" and item.duration_min == 170
    assert item.genres == ["action", "adventure", "drama"] and item.countries == ["US"]
    assert item.date_added == "2021-09-25" and item.directors == ["Michael Mann"]


@pytest.mark.parametrize("change,reason", [
    ({"title": " "}, "empty title"), ({"release_year": "19x5"}, "release_year"), ({"type": "Podcast"}, "unknown type"),
    ({"duration": "ninety"}, "unparseable duration"), ({"date_added": "someday"}, "unparseable date"),
    ({"rating": "ZZ"}, "unknown rating"), ({"country": "Atlantis"}, "unknown country"),
])
def test_bad_rows_are_rejected_with_reason_and_row(change, reason):
    out = normalize_record("hulu", 7, GOOD | change, source="f.csv")
    assert isinstance(out, ing.Rejection) and reason in out.reason and out.row == 7 and out.platform == "hulu"


def test_too_many_and_missing_fields():
    assert "too many fields" in normalize_record("netflix", 1, GOOD | {None: ["x"]}).reason
    rec = dict(GOOD)
    del rec["cast"]
    assert "missing fields: cast" in normalize_record("netflix", 1, rec).reason


def test_duration_in_rating_column_is_repaired():
    item = normalize_record("netflix", 1, GOOD | {"rating": "74 min", "duration": ""})
    assert item.duration_min == 74 and item.rating is None


def test_simulated_ingest_accounts_for_every_row_and_quarantines(tmp_path):
    params = load_params(overrides={"simulated": {"contentCount": {"netflix": 300, "prime": 200, "disney": 0, "hulu": 100},
                                                  "malformedRate": 0.03}}, environ={})
    result = ing.ingest(params, show_progress=False)
    m = result.metrics("simulated")
    assert m["accounted"] and m["rows"] == sum(len(v) for v in simulated_catalog(params).values())
    assert m["rejected"] > 0 and m["rejected"] == m["rows"] - len(simulated_truth(params))
    ing.write_outputs(result, tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert len(lines) == m["rejected"] and all(r["row"] >= 1 and r["reason"] and r["platform"] for r in lines)
    with pytest.raises(ing.IngestError, match="max_reject_rate"):
        ing.check_reject_rate(result, 0.001)


def test_simulated_catalog_is_deterministic():
    p = load_params(overrides={"simulated": {"contentCount": {"netflix": 50, "prime": 50, "disney": 10, "hulu": 10}}}, environ={})
    q = load_params(overrides={"seed": 7, "simulated": {"contentCount": {"netflix": 50, "prime": 50, "disney": 10, "hulu": 10}}}, environ={})
    assert simulated_catalog(p) == simulated_catalog(p.model_copy(deep=True))
    assert simulated_catalog(p) != simulated_catalog(q)


def test_buffer_flushes_on_size_time_and_close():
    now = [0.0]
    batches = []
    buf = InputBuffer(batches.append, max_size=3, max_delay_ms=1000, strategy="hybrid", clock=lambda: now[0])
    for i in range(4):
        buf.add(i)
    assert batches == [[0, 1, 2]]
    now[0] = 2.0
    buf.poll()
    assert batches[-1] == [3] and buf.flushes == {"size": 1, "time": 1, "final": 0}
    buf.add(9)
    buf.close()
    assert batches[-1] == [9] and buf.flushes["final"] == 1
    with pytest.raises(ValueError):
        InputBuffer(batches.append, strategy="sometimes")


@pytest.mark.realdata
def test_real_catalogs_every_row_accounted(real_data_dir, tmp_path):
    params = load_params(overrides={"data": {"source": "real", "dir": str(real_data_dir)}}, environ={})
    result = ing.ingest(params, show_progress=False)
    m = result.metrics("real")
    assert m["rows"] == 22998 and m["accounted"]
    assert m["per_platform"]["netflix"]["rows"] == 8807 and m["per_platform"]["hulu"]["rows"] == 3073
    assert m["unmapped_genre_labels"] == {}

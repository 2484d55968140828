"""Ranker names, registry fallback for the default arms, and clear errors when nothing has been trained."""
import pytest

from mgw.abtest import sources
from mgw.abtest.run import run_abtest
from mgw.config import load_params
from mgw.errors import DataError, UnknownIdError


def test_ranker_names():
    for ok in ("retriever", "popularity", "utility", "lightgcn", "reranker@1.2.0", "reranker@production"):
        sources.check_ranker_name(ok)
    for bad in ("gat", "reranker@", "bm25"):
        with pytest.raises(DataError, match="unknown ranker"):
            sources.check_ranker_name(bad)


def test_default_arms_fall_back_when_registry_is_empty(tmp_path):
    params = load_params(overrides={"gnn": {"registry_dir": str(tmp_path / "empty")}})
    arms, notes = sources.default_arms(params)
    assert arms[1] == "reranker@production" and arms[0] in sources.BASELINES
    assert "0 version" in notes[0]


def test_unknown_version_is_a_clear_error(tmp_path):
    params = load_params(overrides={"gnn": {"registry_dir": str(tmp_path / "empty")}})
    with pytest.raises(UnknownIdError):
        sources.resolve("reranker@9.9.9", params)
    with pytest.raises(UnknownIdError, match="production"):
        run_abtest(params, ["lightgcn", "reranker@production"], write=False)

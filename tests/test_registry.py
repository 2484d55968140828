import json

import pytest
import torch

from mgw.errors import CorruptFileError, DataError, UnknownIdError
from mgw.rerank.registry import Registry, next_version

CFG = {"class": "GATReranker", "input_dim": 8, "hidden_dim": 8, "heads": 8, "layers": 2, "conv": "GATConv",
       "dropout": 0.1}


def _save(reg, data_hash="d1", params_hash="p1", cfg=CFG):
    return reg.save({"w": torch.ones(2, 2)}, {"item_h": torch.zeros(3, 8)}, items=["a", "b", "c"], users=["u"],
                    config=cfg, metrics={"ndcg@10": 0.1}, lineage={"data_hash": data_hash, "params_hash": params_hash},
                    history={"lossHistory": [1.0]})


def test_bump_rules():
    parent = {"version": "1.2.3", "config": CFG, "lineage": {"data_hash": "d", "params_hash": "p"}}
    assert next_version(None, CFG, "d", "p") == "1.0.0"
    assert next_version(parent, CFG, "d", "p") == "1.2.4"
    assert next_version(parent, CFG, "d2", "p") == "1.3.0"
    assert next_version(parent, CFG, "d", "p2") == "1.3.0"
    assert next_version(parent, {**CFG, "heads": 4}, "d", "p") == "2.0.0"


def test_save_load_roundtrip_and_lineage(tmp_path):
    reg = Registry(tmp_path)
    assert _save(reg) == "1.0.0"
    assert _save(reg) == "1.0.1"
    assert _save(reg, data_hash="d2") == "1.1.0"
    state, cache, parts = reg.load("1.1.0")
    torch.testing.assert_close(state["w"], torch.ones(2, 2))
    assert parts["lineage"]["parent"] == "1.0.1" and parts["lineage"]["data_hash"] == "d2"
    assert parts["items"] == ["a", "b", "c"]
    assert [r["version"] for r in reg.list()] == ["1.0.0", "1.0.1", "1.1.0"]
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("victim", ["weights.safetensors", "metrics.json", "cache.safetensors"])
def test_tampered_or_missing_file_fails_clearly(tmp_path, victim):
    reg = Registry(tmp_path)
    v = _save(reg)
    p = tmp_path / v / victim
    p.write_bytes(p.read_bytes()[:-1] + b"x")
    with pytest.raises(CorruptFileError, match="checksum"):
        reg.load(v)
    p.unlink()
    with pytest.raises(CorruptFileError, match="missing"):
        reg.load(v)


def test_missing_checksums_and_unknown_versions(tmp_path):
    reg = Registry(tmp_path)
    v = _save(reg)
    with pytest.raises(UnknownIdError, match="9.9.9"):
        reg.load("9.9.9")
    with pytest.raises(UnknownIdError, match="production"):
        reg.load("production")
    with pytest.raises(DataError, match="semantic"):
        reg.load("latest")
    (tmp_path / v / "checksums.json").unlink()
    with pytest.raises(CorruptFileError):
        reg.load(v)


def test_promote_and_rollback(tmp_path):
    reg = Registry(tmp_path)
    a, b = _save(reg), _save(reg, data_hash="d2")
    with pytest.raises(DataError, match="no earlier"):
        reg.rollback()
    reg.promote(a)
    reg.promote(b)
    assert reg.resolve("production") == b
    assert reg.rollback() == a
    assert reg.resolve("reranker@production") == a
    with pytest.raises(DataError):
        reg.rollback()
    with pytest.raises(DataError, match="alias"):
        reg.promote(a, "staging")
    with pytest.raises(UnknownIdError):
        reg.promote("3.0.0")
    log = json.loads((tmp_path / "aliases.json").read_text())["log"]
    assert [e["action"] for e in log] == ["promote", "promote", "rollback"]


def test_cli_models(tmp_path, capsys, monkeypatch):
    from mgw.cli import main

    reg = Registry(tmp_path / "models")
    a, b = _save(reg), _save(reg, data_hash="d2")
    monkeypatch.setenv("MGW_GNN__REGISTRY_DIR", str(tmp_path / "models"))
    assert main(["models", "promote", a]) == 0
    assert main(["models", "promote", b]) == 0
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "1.1.0" in out and "production" in out
    assert main(["models", "rollback"]) == 0
    assert reg.resolve("production") == a
    assert main(["models", "show", "production"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["version"] == a
    assert main(["models", "promote", "7.7.7"]) == 2

"""`mgw snapshot ...`, `mgw store ...`, `mgw privacy forget` end to end on a temp root."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mgw.cli import main
from mgw.config import load_params
from mgw.store.stores import Stores, content_store


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MGW_STORE__ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("MGW_STORE__KEY_FILE", str(tmp_path / "root" / "user.key"))
    monkeypatch.setenv("MGW_STORE__BACKEND", "exact")
    monkeypatch.setenv("MGW_EMBED__DIM", "8")
    monkeypatch.setenv("MGW_STORE__AUTOPERSIST", "false")
    return tmp_path


def run(capsys, *argv):
    rc = main(list(argv))
    return rc, capsys.readouterr().out


def test_snapshot_cli_cycle(env, capsys):
    params = load_params()
    with content_store(params) as s:
        s.insert_batch([{"entity_id": f"e{i}", "title": "t", "type": "movie"} for i in range(5)],
                       np.random.default_rng(0).normal(size=(5, 8)))
    rc, out = run(capsys, "snapshot", "create")
    assert rc == 0 and json.loads(out)["count"] == 5
    first = json.loads(out)["created"]
    with content_store(params) as s:
        with s.transaction() as tx:
            tx.delete(["e0", "e1"])
    rc, out = run(capsys, "snapshot", "list")
    listing = json.loads(out)["content"]
    assert rc == 0 and [x["name"] for x in listing if x["valid"]] == [first]
    rc, out = run(capsys, "snapshot", "restore", first)
    assert rc == 0 and json.loads(out)["rows"] == 5
    rc, out = run(capsys, "store", "check")
    assert rc == 0 and json.loads(out)["rows"] == 5 and json.loads(out)["consistent"]
    rc, out = run(capsys, "snapshot", "prune")
    assert rc == 0
    assert main(["snapshot", "restore", "missing.rvdb"]) == 2  # typed error, clear message


def test_privacy_forget_cli(env, capsys):
    assert main(["store", "init-key"]) == 0
    capsys.readouterr()
    params = load_params()
    stores = Stores.open(params)
    stores.querylog.log("frank", "frank's query", ["e1"], 3.0)
    stores.users.put(stores.users.get_or_create("frank"))
    stores.close()
    rc, out = run(capsys, "snapshot", "create", "--users")
    assert rc == 0 and json.loads(out)["users"].startswith("users-")
    rc, out = run(capsys, "snapshot", "prune", "--users")
    assert rc == 0 and json.loads(out)["users_removed"] == []
    rc, out = run(capsys, "privacy", "forget", "frank", "--root", str(env))
    res = json.loads(out)
    holders = res["holders"]
    assert rc == 0 and res["clean"] and res["exact_id_scan"]["hits"] == []
    assert holders["user store (profiles, history, user snapshots)"]["removed"] == 2  # profile + 1 snapshot
    assert holders["query log (all tiers)"]["removed"] == 1
    assert not any(res["remaining"].values())
    receipt = json.loads(open(res["receipt_file"]).read())
    assert receipt["clean"] and "frank" not in open(res["receipt_file"]).read()

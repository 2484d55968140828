"""`mgw privacy forget` everywhere (issue 15): over a pipeline-like repo where the user is in every store — user
profiles and history, user snapshots, the query log in every tier, a cache, two model-registry versions (users.json
and the user-state tensor) and per-user report files — forgetting leaves nothing an exact-id scan of data/,
models/ and reports/ can find, keeps every other user (including `ml:10` next to the forgotten `ml:1`), keeps the
model loadable, and writes a receipt that does not itself name the user."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch

from mgw.cli import main
from mgw.config import load_params
from mgw.rerank.registry import Registry
from mgw.store import forget as fg
from mgw.store.crypto import write_key_file
from mgw.store.exact_scan import scan_tree
from mgw.store.holders import CallbackHolder, ModelRegistryHolder
from mgw.store.stores import Stores, content_store

USER, NEIGHBOUR, OTHER = "ml:1", "ml:10", "ml:2"
USERS = [USER, NEIGHBOUR, OTHER]
DAY = 86400.0
NOW = time.time()


def _params(root):
    return load_params(overrides={
        "store": {"root": str(root / "data" / "store"), "key_file": str(root / "data" / "store" / "user.key"),
                  "backend": "exact", "autoPersist": False},
        "embed": {"dim": 4}, "gnn": {"registry_dir": str(root / "models" / "reranker")}}, environ={})


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    params = _params(root)
    write_key_file(root / "data" / "store" / "user.key")
    content = content_store(params)
    content.insert_batch([{"entity_id": f"c{i}", "title": f"t{i}", "type": "movie", "genres": [g]}
                          for i, g in enumerate(["crime", "drama", "comedy"])], np.eye(4, dtype=np.float32)[:3] + 0.1)
    stores = Stores.open(params, content=content)
    for u in USERS:
        for i in range(3):
            stores.users.record(u, f"c{i}", "watch", ts=NOW - i)
            stores.querylog.log(u, f"heists for {u}", ["c0"], 4.0, ts=NOW - i * 40 * DAY)
    stores.users.snapshot()
    stores.querylog.tier(now=NOW)  # rows in hot, warm and cold (pseudonymised) tiers
    uid = stores.users.uid(USER)
    stores.close()
    content.close()

    reg = Registry(root / "models" / "reranker")
    for data_hash in ("d1", "d2"):  # two versions that both know the user
        reg.save({"conv.weight": torch.randn(4, 4)},
                 {"item_h": torch.randn(3, 2), "user_h": torch.arange(6.0).reshape(3, 2),
                  "popularity": torch.tensor([5.0, 6.0, 7.0])},  # 3 items = 3 users: not per-user by name
                 items=["c0", "c1", "c2"], users=USERS, config={"class": "GATReranker"}, metrics={},
                 lineage={"data_hash": data_hash, "params_hash": "p"}, history={})
    reg.promote("1.0.0", "production")
    reg.promote("1.1.0", "candidate")

    reports = root / "reports"
    (reports / "rerank").mkdir(parents=True)
    pd.DataFrame({"user_id": USERS * 2, "ranker": ["gat"] * 3 + ["utility"] * 3,
                  "ndcg@10": np.linspace(0, 1, 6)}).to_parquet(reports / "rerank" / "per_user.parquet", index=False)
    (reports / "abtest").mkdir()
    pd.DataFrame({"user": USERS, "arm": ["a", "b", "a"]}).to_csv(reports / "abtest" / "per_user.csv", index=False)
    (reports / "serving").mkdir()
    (reports / "serving" / "sessions.jsonl").write_text("".join(json.dumps({"user": u, "clicks": 2}) + "\n"
                                                                for u in USERS))
    (reports / "metrics").mkdir()
    (reports / "metrics" / "rerank.json").write_text(json.dumps({"ndcg@10": 0.1, "users": 3}))
    return root, params, uid


def _roots(root):
    return [root / "data", root / "models", root / "reports"]


def test_forget_leaves_no_trace_anywhere_and_keeps_everyone_else(repo):
    root, params, uid = repo
    before = scan_tree(_roots(root), [USER, uid]).hits
    for where in ("users.json", "per_user.parquet", "per_user.csv", "sessions.jsonl", "querylog.db", "users.db",
                  "users-"):  # the scan sees the user in every kind of store before
        assert any(where in h for h in before), (where, before)
    cache = {f"{u}:q": 1 for u in USERS}
    forget_cache = CallbackHolder("test cache", lambda u: sum(cache.pop(k) for k in [k for k in cache if
                                                                                      k.startswith(u + ":")]))
    ctx = fg.open_context(params, repo_root=root)
    run = fg.forget_everywhere(ctx, USER, extra=[forget_cache])
    ctx.stores.close()

    assert run.clean, run.receipt
    assert scan_tree(_roots(root), [USER, uid]).hits == []
    assert sorted(cache) == [f"{NEIGHBOUR}:q", f"{OTHER}:q"]
    removed = {n: h["removed"] for n, h in run.receipt["holders"].items()}
    assert removed["model registry (users.json, per-user tensors)"] == 4  # 2 versions × (users.json + user_h)
    assert removed["per-user report files (parquet/csv/jsonl with a user column)"] == 4
    # everyone else stays, ml:10 included (no substring matching)
    neighbour = scan_tree(_roots(root), [NEIGHBOUR]).hits
    for where in ("users.json", "per_user.parquet", "per_user.csv", "sessions.jsonl", "querylog.db"):
        assert any(where in h for h in neighbour), where
    # the model versions are rewritten consistently and still verify
    reg = Registry(root / "models" / "reranker")
    for v in ("1.0.0", "1.1.0"):
        state, cache_t, parts = reg.load(v)
        assert parts["users"] == [NEIGHBOUR, OTHER]
        torch.testing.assert_close(cache_t["user_h"], torch.tensor([[2.0, 3.0], [4.0, 5.0]]))
        torch.testing.assert_close(cache_t["popularity"], torch.tensor([5.0, 6.0, 7.0]))
        assert parts["lineage"]["forgotten"][0]["retrain_recommended"] is True
    assert reg.aliases() == {"production": "1.0.0", "candidate": "1.1.0"}
    assert not list((root / "models" / "reranker").glob(".forget-*"))
    # reports keep their other rows
    assert sorted(pd.read_parquet(root / "reports" / "rerank" / "per_user.parquet")["user_id"].unique()) == [NEIGHBOUR,
                                                                                                           OTHER]
    # the receipt is written, is clean and does not name the user
    text = run.path.read_text()
    receipt = json.loads(text)
    assert receipt["clean"] and receipt["subject"].startswith("r_") and USER not in text.split('"') and uid not in text
    assert run.path.parent == root / "data" / "store" / "privacy" / "receipts"
    # forgetting again finds nothing to do and is still clean
    ctx = fg.open_context(params, repo_root=root)
    again = fg.forget_everywhere(ctx, USER)
    ctx.stores.close()
    assert again.clean and all(not h["removed"] for h in again.receipt["holders"].values())


def test_cli_forget_exits_1_and_names_the_file_when_a_trace_remains(repo, monkeypatch, capsys):
    root, params, uid = repo
    (root / "reports" / "notes.txt").write_text(f"ask {USER}. about the heist list\n")  # no holder owns this file
    for k, v in {"MGW_STORE__ROOT": params.store.root, "MGW_STORE__KEY_FILE": params.store.key_file,
                 "MGW_GNN__REGISTRY_DIR": params.gnn.registry_dir}.items():
        monkeypatch.setenv(k, v)
    rc = main(["privacy", "forget", USER, "--root", str(root)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and not out["clean"]
    assert out["exact_id_scan"]["hits"] == [f"{root / 'reports' / 'notes.txt'} (raw bytes)"]
    (root / "reports" / "notes.txt").unlink()
    (root / "reports" / f"{USER}.txt").write_text("x")  # a file named after the user is a trace too
    assert main(["privacy", "forget", USER, "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"{root / 'reports'}/<user>.txt (file name)" in out and f"/{USER}.txt" not in out
    (root / "reports" / f"{USER}.txt").unlink()
    assert main(["privacy", "forget", USER, "--root", str(root)]) == 0


def test_find_user_is_exact_not_a_substring(repo):
    """Forgetting ml:1 once reported a trace because the raw scan matched inside ml:10."""
    root, params, uid = repo
    stores = Stores.open(params)
    stores.forget(USER)
    assert stores.find_user(USER)["raw_files"] == 0
    assert stores.find_user(NEIGHBOUR)["raw_files"] > 0
    stores.close()


def test_registry_convention_violation_is_reported_and_changes_nothing(repo):
    root, params, uid = repo
    reg_dir = root / "models" / "reranker"
    from safetensors.torch import save_file

    save_file({"user_emb.weight": torch.zeros(2, 2)}, reg_dir / "1.0.0" / "extra.safetensors")  # 2 rows, 3 users
    holder = ModelRegistryHolder(reg_dir)
    before = {p: p.read_bytes() for p in sorted((reg_dir / "1.0.0").iterdir())}
    with pytest.raises(Exception, match="per-user tensor 'user_emb.weight' has shape"):
        holder.forget(USER)
    assert {p: p.read_bytes() for p in sorted((reg_dir / "1.0.0").iterdir())} == before
    assert not list(reg_dir.glob(".forget-*"))
    ctx = fg.open_context(params, repo_root=root)
    run = fg.forget_everywhere(ctx, USER)
    ctx.stores.close()
    assert not run.clean and "error" in run.receipt["holders"]["model registry (users.json, per-user tensors)"]


def test_per_user_tensors_can_be_named_in_metadata(tmp_path):
    from mgw.store.holders import per_user_tensors

    assert per_user_tensors(["user_h", "item_h", "model.users_emb", "pop"], None) == ["user_h", "model.users_emb"]
    assert per_user_tensors(["h_u", "item_h"], {"per_user": "h_u"}) == ["h_u"]


def test_an_interrupted_rewrite_is_finished_and_the_old_copy_removed(repo):
    root, params, uid = repo
    reg_dir = root / "models" / "reranker"
    import shutil

    shutil.copytree(reg_dir / "1.0.0", reg_dir / ".forget-1.0.0.new")
    (reg_dir / "1.0.0").rename(reg_dir / ".forget-1.0.0.old")  # crash between the two renames
    holder = ModelRegistryHolder(reg_dir)
    assert holder.find(USER) == [str(reg_dir / "1.0.0" / "users.json"), str(reg_dir / "1.1.0" / "users.json")]
    assert not list(reg_dir.glob(".forget-*")) and Registry(reg_dir).verify("1.0.0")


def test_a_new_holder_registers_in_one_line(repo, monkeypatch):
    root, params, uid = repo
    sessions = {USER: ["s1", "s2"], NEIGHBOUR: ["s3"]}

    class Sessions:
        name = "serving sessions"

        def find(self, user):
            return [f"session {s}" for s in sessions.get(user, [])]

        def forget(self, user):
            return len(sessions.pop(user, []))

    monkeypatch.setattr(fg, "HOLDERS", [])
    fg.register_holder(lambda ctx: Sessions())
    ctx = fg.open_context(params, repo_root=root)
    run = fg.forget_everywhere(ctx, USER)
    ctx.stores.close()
    assert run.receipt["holders"]["serving sessions"] == {"found_before": 2, "removed": 2, "remaining": 0}
    assert sessions == {NEIGHBOUR: ["s3"]} and run.clean

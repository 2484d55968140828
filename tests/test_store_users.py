"""User store (encryption, keys, preference learning), DP budget, query log, metrics archive, forgetting."""
from __future__ import annotations

import time

import numpy as np
import pytest

from mgw.config import load_params
from mgw.errors import CorruptFileError, DataError, UnknownIdError
from mgw.store.backend import EXACT_SPEC
from mgw.store.content import ContentStore
from mgw.store.crypto import Cipher, MissingKeyError, WrongKeyError, load_key, new_key, write_key_file
from mgw.store.metrics_archive import DAY, MetricsArchive, resolution_for
from mgw.store.privacy import PrivacyAccountant, PrivacyBudgetError, aggregated_preferences, laplace
from mgw.store.querylog import QueryLog
from mgw.store.stores import Stores
from mgw.store.users import UserStore, update_genre_weights

DIM = 8
NOW = 1_767_225_600.0


@pytest.fixture
def content(tmp_path):
    s = ContentStore(tmp_path / "content", dim=DIM, backend=EXACT_SPEC)
    rng = np.random.default_rng(0)
    genres = [["action"], ["drama"], ["comedy"], ["action", "scifi"], ["drama", "romance"], ["documentary"]] * 3
    s.insert_batch([{"entity_id": f"c{i}", "title": f"t{i}", "type": "movie", "genres": g}
                    for i, g in enumerate(genres)], rng.normal(size=(len(genres), DIM)))
    yield s
    s.close()


@pytest.fixture
def cipher():
    return Cipher(new_key())


def test_encryption_roundtrip_wrong_key_tamper(cipher):
    blob = cipher.encrypt(b"secret", b"row1")
    assert b"secret" not in blob and cipher.decrypt(blob, b"row1") == b"secret"
    with pytest.raises(WrongKeyError, match="encrypted with key"):
        Cipher(new_key()).decrypt(blob, b"row1")
    with pytest.raises(CorruptFileError):
        cipher.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), b"row1")
    with pytest.raises(CorruptFileError):
        cipher.decrypt(blob, b"row2")  # moved to another row


def test_key_file_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("MGW_STORE_KEY", raising=False)
    with pytest.raises(MissingKeyError):
        load_key(tmp_path / "none.key")
    key = new_key()
    p = write_key_file(tmp_path / "k.key", key)
    assert load_key(p) == key and (p.stat().st_mode & 0o777) == 0o600
    monkeypatch.setenv("MGW_STORE_KEY", key.hex())
    assert load_key(None) == key
    monkeypatch.setenv("MGW_STORE_KEY", "abc")
    with pytest.raises(DataError):
        load_key(None)


def test_preference_learning_per_seed(tmp_path, content, cipher):
    changed = []
    users = UserStore(tmp_path / "users", cipher, content, on_change=[changed.append])
    p = users.record("alice", "c0", "watch", minutes=90, ts=NOW)  # action
    assert p.favorite_weights == {"action": pytest.approx(0.1)} and p.watch_time["c0"] == 90
    p = users.record("alice", "c6", "watch", ts=NOW + 1)  # action again: 0.1 + 0.1 * 0.9
    assert p.favorite_weights["action"] == pytest.approx(0.19)
    p = users.record("alice", "c1", "skip", ts=NOW + 2)  # drama disliked +5%
    assert p.disliked_weights == {"drama": pytest.approx(0.05)}
    p = users.record("alice", "c3", "rate", rating=5, ts=NOW + 3)  # action+scifi +20%
    assert p.favorite_weights["scifi"] == pytest.approx(0.2) and p.favorite_genres[0] == "action"
    p = users.record("alice", "c2", "rate", rating=2, ts=NOW + 4)  # low rating: no boost
    assert "comedy" not in p.favorite_weights and p.ratings["c2"] == 2
    emb = np.array(users.get("alice").embedding)
    assert emb.shape == (DIM,) and np.linalg.norm(emb) == pytest.approx(1, abs=1e-5)
    cents = users.genre_centroids()
    assert emb @ cents["action"] > emb @ cents["drama"]  # the embedding leans to liked genres
    assert changed == ["alice"] * 5  # cache invalidation hook after every update
    hist = users.history("alice", NOW + 1, NOW + 3)
    assert [h["entity_id"] for h in hist] == ["c6", "c1"]
    with pytest.raises(UnknownIdError):
        users.record("alice", "nope", "watch")
    with pytest.raises(DataError):
        users.record("alice", "c0", "like")
    users.close()


def test_update_genre_weights_saturates():
    w = {}
    for _ in range(100):
        w = update_genre_weights(w, ["a"], 0.2)
    assert 0.99 < w["a"] <= 1.0


def test_at_rest_encryption_and_key_rotation(tmp_path, content, cipher):
    users = UserStore(tmp_path / "users", cipher, content)
    users.record("bob-the-user", "c0", "watch", ts=NOW)
    users.snapshot()
    users.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "users").rglob("*") if p.is_file())
    assert b"bob-the-user" not in raw and b"action" not in raw
    with pytest.raises(WrongKeyError):
        UserStore(tmp_path / "users", Cipher(new_key()), content)
    users = UserStore(tmp_path / "users", cipher, content)
    new = Cipher(new_key())
    res = users.rotate_key(new)
    assert res["rows"] == 2 and res["snapshots"] == 1
    users.close()
    with pytest.raises(WrongKeyError):
        UserStore(tmp_path / "users", cipher, content)
    users = UserStore(tmp_path / "users", new, content)
    assert users.get("bob-the-user").favorite_weights == {"action": pytest.approx(0.1)}
    assert users.snapshots.valid()[0].meta["key_id"] == new.key_id.hex()
    users.close()


def test_dp_laplace_and_budget(tmp_path, content, cipher):
    users = UserStore(tmp_path / "users", cipher, content)
    for u in range(30):
        users.record(f"u{u}", f"c{u % 6}", "watch", ts=NOW)
    acct = PrivacyAccountant(users, budget=1.0)
    rng = np.random.default_rng(0)
    out = aggregated_preferences(users, [f"u{u}" for u in range(30)], 0.4, acct, rng)
    assert set(out["topGenres"]) <= {"action", "drama", "comedy", "scifi", "romance", "documentary"}
    assert out["budget_remaining"] == pytest.approx(0.6)
    aggregated_preferences(users, ["u1"], 0.6, acct, rng)
    with pytest.raises(PrivacyBudgetError, match="exhausted"):
        aggregated_preferences(users, ["u1"], 0.01, acct, rng)
    assert PrivacyAccountant(users, 1.0).spent == pytest.approx(1.0)  # persisted ledger
    noise = laplace(np.zeros(20000), sensitivity=1.0, epsilon=0.5, rng=rng)
    assert np.mean(np.abs(noise)) == pytest.approx(2.0, rel=0.05)  # E|Laplace(b)| = b = 1/ε
    users.close()


def test_querylog_tiers_retention_pseudonymisation(tmp_path, cipher):
    ql = QueryLog(tmp_path / "logs", cipher.pseudonym, cipher)
    for age in (1, 10, 40, 100):
        ql.log("carol", f"q{age}", ["a", "b"], 12.0, clicks=["b"], ts=NOW - age * DAY)
    with pytest.raises(DataError):
        ql.log("carol", "q", [], float("nan"))
    moved = ql.tier(now=NOW)
    assert moved["deleted"] == 1 and moved["warm"] == 1 and moved["cold"] == 1 and moved["hot"] == 1
    rows = ql.rows()
    by_q = {r.query: r for r in rows.itertuples()}
    assert set(by_q) == {"q1", "q10", "q40"}
    assert by_q["q1"].user == "carol" and by_q["q10"].user == "carol"
    assert by_q["q40"].user == cipher.pseudonym("carol") and by_q["q40"].tier == "cold"
    assert by_q["q1"].satisfaction == pytest.approx(0.5)
    assert ql.tier(now=NOW)["warm"] == 1  # idempotent, no duplicates
    assert len(ql.rows()) == 3
    assert not any(b"carol" in p.read_bytes() for p in (tmp_path / "logs" / "querylog").rglob("*.enc"))
    ql.close()


def test_metrics_downsampling_and_resolution(tmp_path):
    import pandas as pd

    arch = MetricsArchive(tmp_path / "m")
    ts = np.arange(NOW - 400 * DAY, NOW, 3600.0)
    arch.record_many(pd.DataFrame({"ts": ts, "throughput": np.ones(len(ts)), "search_latency_p99": np.arange(len(ts), dtype=float)}))
    arch.record({"metrics": {"searchLatency": {"p50": 1, "p95": 2, "p99": 3}, "throughput": 5, "cacheHitRate": 0.8,
                             "memoryUsage": 10, "indexSize": 100}, "health": {"uptime": 1, "errorRate": 0, "degradationScore": 0}},
                ts=NOW - 60)
    with pytest.raises(DataError):
        arch.record({"bogus": 1})
    arch.downsample(now=NOW)
    counts = arch.counts()
    assert set(counts) == {"realtime", "hourly", "daily", "monthly"}
    assert resolution_for(NOW - DAY, NOW) == "realtime" and resolution_for(NOW - 400 * DAY, NOW) == "monthly"
    d = arch.query("throughput", NOW - 180 * DAY, NOW)
    assert (d["resolution"] == "daily").all() and 175 <= len(d) <= 181 and np.allclose(d["value"][:-1], 1) and d["value"].iloc[-1] == pytest.approx(29 / 25)
    m = arch.query("search_latency_p99", NOW - 400 * DAY, NOW)  # max aggregation keeps the peak
    assert m["value"].max() == pytest.approx(len(ts) - 1)
    h = arch.query("throughput", NOW - 20 * DAY, NOW)
    assert set(h["resolution"]) == {"hourly"}
    arch.close()


def test_forget_leaves_no_trace(tmp_path, content, cipher):
    params = load_params(overrides={"store": {"root": str(tmp_path / "root")}})
    purged = []
    stores = Stores.open(params, cipher=cipher, content=content,
                         forgetters=[lambda u: purged.append(u) or {"cache_entries": 1}])
    for u in ("dave-secret-id", "erin"):
        for i in range(4):
            stores.users.record(u, f"c{i}", "watch", ts=time.time() - i)
            stores.querylog.log(u, f"{u} query {i}", ["c1"], 5.0, ts=NOW - i * 20 * DAY)
    stores.users.snapshot()
    stores.querylog.tier(now=NOW)  # rows in hot, warm, cold (pseudonymised) tiers
    assert all(v for k, v in stores.find_user("dave-secret-id").items() if k != "raw_files")
    res = stores.forget("dave-secret-id")
    assert res["profiles"] == 1 and res["snapshots_rewritten"] == 1 and purged == ["dave-secret-id"]
    assert stores.find_user("dave-secret-id") == {"profile": 0, "history": 0, "snapshot_rows": 0,
                                                  "querylog_rows": 0, "raw_files": 0}
    assert stores.find_user("erin")["profile"] == 1 and stores.find_user("erin")["snapshot_rows"] > 0
    assert stores.users.snapshots.valid()  # the rewritten snapshot is still valid
    stores.close()

"""The L1→L2→L3 read path: facet safety, semantic matching, invalidation triggers, refresh-ahead,
warming, L2 failure fallback, serialisation errors at put."""
from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgw.cache.base import SerializationError
from mgw.cache.invalidation import tag_of
from mgw.cache.keys import canonical_facets, make_key
from mgw.cache.l1 import LRUCache
from mgw.cache.l2 import LFUCache
from mgw.cache.tiered import TieredCache, build_cache
from mgw.config import PLATFORMS, load_params
from mgw.errors import DataError, UnknownPlatformError
from mgw.testing.cache_contract import FakeClock
from redis_server import redis_url  # noqa: F401  (fixture)


def fake_embed(texts):
    """Deterministic bag-of-words embedding: word order and repetition do not matter."""
    out = []
    for t in texts:
        v = np.zeros(32, dtype=np.float32)
        for w in set(t.split()):
            seed = int.from_bytes(hashlib.sha256(w.encode()).digest()[:4], "big")
            v += np.random.default_rng(seed).standard_normal(32).astype(np.float32)
        out.append(v / (np.linalg.norm(v) or 1))
    return np.stack(out)


def q(text="space movies", **facets):
    return {"text": text, "platforms": {"all": [], "any": [], "none": []}, "regions": [],
            "genres": {"all": [], "none": []}, "type": None, "year": None, "ratings": [], **facets}


class L3:
    """Answers with the facets it was asked for, so a wrong cache answer is visible."""

    def __init__(self):
        self.calls = 0
        self.fail = False

    def __call__(self, req):
        if self.fail:
            raise RuntimeError("L3 down")
        self.calls += 1
        return {"facets": canonical_facets(req.parsed), "text": req.parsed.get("text"), "user": req.user,
                "model": req.model_version, "n": self.calls, "ids": ["t1", "t2"]}


def make(clock=None, l2=None, **kw):
    clock = clock or FakeClock()
    l3 = L3()
    cache = TieredCache(l3, l1=LRUCache(100, 15, clock=clock), l2=l2 if l2 is not None else LFUCache(1000, 300, clock=clock),
                        embed=kw.pop("embed", fake_embed), clock=clock, background=False,
                        result_ids=lambda v: v["ids"], **kw)
    return cache, l3, clock


def test_read_path_l3_then_l1_then_l2_after_l1_expiry():
    cache, l3, clock = make()
    assert cache.get(q()).level == "L3"
    assert cache.get(q()).level == "L1"
    clock.advance(16)  # L1 (15 s) expired, L2 (300 s) not
    got = cache.get(q())
    assert got.level == "L2" and l3.calls == 1
    assert cache.get(q()).level == "L1"  # promoted
    clock.advance(301)
    assert cache.get(q()).level == "L3" and l3.calls == 2
    m = cache.metrics()
    assert m["L1"]["hits"] == 2 and m["L1"]["misses"] == 3 and m["L2"]["hits"] == 1


SEED_PAIRS = [
    (dict(platforms={"all": ["netflix"], "any": [], "none": []}),
     dict(platforms={"all": [], "any": [], "none": ["netflix"]})),  # on Netflix vs not on Netflix
    (dict(regions=["US"]), dict(regions=["GB"])),
    (dict(platforms={"all": ["netflix", "prime"], "any": [], "none": []}),
     dict(platforms={"all": [], "any": ["netflix", "prime"], "none": []})),  # AND vs OR
    (dict(genres={"all": ["comedy"], "none": []}), dict(genres={"all": [], "none": ["comedy"]})),
    (dict(type="movie"), dict(type="series")),
    (dict(year={"min": 1990, "max": 1999}), dict(year={"min": 2000, "max": 2009})),
    (dict(ratings=["PG-13"]), dict(ratings=["R"])),
]


@pytest.mark.parametrize("a,b", SEED_PAIRS)
def test_different_facets_never_share_an_entry_even_with_identical_text(a, b):
    cache, l3, _ = make(semantic_threshold=0.01)  # the loosest semantic layer possible
    ra, rb = cache.get(q(**a)), cache.get(q(**b))
    assert ra.level == rb.level == "L3" and l3.calls == 2
    assert cache.get(q(**a)).value["facets"] == canonical_facets(q(**a))
    assert cache.get(q(**b)).value["facets"] == canonical_facets(q(**b))


def test_users_and_uk_alias():
    cache, l3, _ = make()
    cache.get(q(), user="u1")
    assert cache.get(q(), user="u2").level == "L3"
    assert make_key(q(regions=["UK"])).key == make_key(q(regions=["gb"])).key


facet_lists = st.lists(st.sampled_from(PLATFORMS), max_size=2, unique=True)
queries = st.builds(lambda a, o, n, r, t: q(platforms={"all": a, "any": o, "none": n}, regions=r, type=t),
                    facet_lists, facet_lists, facet_lists,
                    st.lists(st.sampled_from(["US", "GB", "CA"]), max_size=2, unique=True),
                    st.sampled_from([None, "movie", "series"]))


@settings(max_examples=60, deadline=None)
@given(a=queries, b=queries)
def test_property_an_answer_is_only_served_for_its_own_facets(a, b):
    cache, _, _ = make(semantic_threshold=0.01)
    cache.get(a)
    got = cache.get(b)
    assert got.value["facets"] == canonical_facets(b)


def test_semantic_layer_matches_paraphrase_only_within_facets():
    cache, l3, _ = make(semantic_threshold=0.95)
    cache.get(q("funny space movies"))
    hit = cache.get(q("space movies funny funny"))
    assert hit.level == "L1" and hit.similarity is not None and hit.similarity >= 0.95 and l3.calls == 1
    assert cache.get(q("gritty crime drama")).level == "L3"
    assert cache.get(q("space movies funny", regions=["US"])).level == "L3"


def test_semantic_off_means_exact_text_only():
    cache, l3, _ = make(embed=None)
    cache.get(q("funny space movies"))
    assert cache.get(q("Funny   SPACE movies")).level == "L1"  # normalised text is exact
    assert cache.get(q("space movies funny")).level == "L3"


def test_bad_parsed_queries_are_rejected():
    for bad in ({"text": "x", "platform": {}}, q(platforms={"all": ["netflx"], "any": [], "none": []}),
                q(type="film"), q(year={"min": "1990"}), q(regions="US"), "text"):
        with pytest.raises((DataError, UnknownPlatformError)):
            make_key(bad)
    with pytest.raises(DataError):
        make_key(q(), user="a:b")


def test_patterns_need_no_scan():
    assert tag_of("user:123:*") == "user:123" and tag_of("search:*") == "search" and tag_of("*") == "all"
    for bad in ("*foo*", "user:*:x", "user:123", ""):
        with pytest.raises(DataError):
            tag_of(bad)


def test_immediate_invalidation_by_pattern_in_both_levels():
    cache, l3, clock = make()
    cache.get(q(), user="123")
    cache.get(q(), user="456")
    cache.invalidate("user:123:*")
    assert len(cache.l1) == 1  # swept from L1 at once
    assert cache.get(q(), user="123").level == "L3"
    assert cache.get(q(), user="456").level == "L1"
    clock.advance(16)
    cache.invalidate("search:*")
    assert cache.get(q(), user="456").level == "L3"  # the L2 copy is dead too


def test_availability_change_hits_platform_and_content_entries_only():
    cache, l3, _ = make()
    on_hulu = q(platforms={"all": ["hulu"], "any": [], "none": []})
    on_disney = q("other", platforms={"all": ["disney"], "any": [], "none": []})
    cache.get(on_hulu)
    cache.get(on_disney)
    cache.get(q("unfiltered"))
    cache.invalidator.availability_change("t9", "hulu")  # t9 is in no result
    assert cache.get(on_hulu).level == "L3"
    assert cache.get(on_disney).level == "L1"
    assert cache.get(q("unfiltered")).level == "L3"
    cache.invalidator.content_update(["t1"])  # t1 is in every result
    assert cache.get(on_disney).level == "L3"


def test_preference_change_is_lazy_and_stale_entry_is_the_fallback():
    cache, l3, _ = make()
    cache.get(q(), user="u1")
    cache.invalidator.preference_change("u1")
    assert len(cache.l1) == 1  # nothing deleted
    l3.fail = True
    got = cache.get(q(), user="u1")
    assert got.stale and got.value["user"] == "u1"
    l3.fail = False
    assert cache.get(q(), user="u1").level == "L3"
    assert cache.get(q(), user="u1").level == "L1"


def test_model_update_moves_a_stable_fraction_first():
    cache, l3, _ = make()
    users = [f"u{i}" for i in range(400)]
    for u in users:
        cache.get(q(), user=u)
    cache.invalidator.model_update("v1", 0.1)
    moved = [u for u in users if cache.get(q(), user=u).level == "L3"]
    assert 20 <= len(moved) <= 60  # ~10% of 400
    assert all(cache.get(q(), user=u).value["model"] == "v1" for u in moved)
    cache.invalidator.rollout.advance(1.0)
    assert cache.invalidator.rollout.version == "v1" and cache.invalidator.rollout.candidate is None


def test_refresh_ahead_before_expiry():
    cache, l3, clock = make(refresh_ahead=0.2)
    cache.get(q())
    clock.advance(11)  # 15 s TTL, refresh window opens at 12 s
    assert not cache.get(q()).refreshing
    clock.advance(1.5)
    got = cache.get(q())
    assert got.level == "L1" and got.refreshing and l3.calls == 2
    clock.advance(5)  # past the original expiry; the refreshed entry serves
    assert cache.get(q()).level == "L1" and l3.calls == 2


def test_background_refresh_runs_in_a_thread():
    clock = FakeClock()
    l3 = L3()
    cache = TieredCache(l3, l1=LRUCache(10, 15, clock=clock), clock=clock, background=True)
    cache.get(q())
    clock.advance(13)
    assert cache.get(q()).refreshing
    cache.drain()
    assert l3.calls == 2


def test_warming_fills_l2():
    cache, l3, _ = make()
    assert cache.warm([(q(f"trend {i}"), None) for i in range(5)]) == 5
    assert len(cache.l2) == 5 and cache.get(q("trend 3")).level in ("L1", "L2")


def test_unserialisable_value_fails_at_put_and_changes_nothing():
    clock = FakeClock()
    cache = TieredCache(lambda req: {"x": object()}, l1=LRUCache(10, 15, clock=clock),
                        l2=LFUCache(10, 300, clock=clock), clock=clock)
    with pytest.raises(SerializationError):
        cache.get(q())
    assert len(cache.l1) == 0 and len(cache.l2) == 0


def test_unreachable_redis_falls_back_with_a_warning(caplog):
    from mgw.cache.redis_l2 import RedisLFUCache

    clock = FakeClock()
    dead = RedisLFUCache("redis://127.0.0.1:1/0", 10, 300, clock=clock, timeout_s=0.1)
    cache, l3, _ = make(clock=clock, l2=dead)
    with caplog.at_level(logging.WARNING):
        assert cache.get(q()).level == "L3"
        assert cache.get(q()).level == "L1"
    assert sum("continuing with L1+L3" in r.message for r in caplog.records) == 1


def test_unreachable_redis_fails_when_configured():
    from mgw.cache.base import CacheBackendError

    p = load_params(overrides={"cache": {"L2": {"url": "redis://127.0.0.1:1/0"}, "on_l2_error": "fail"}})
    with pytest.raises(CacheBackendError):
        build_cache(p.cache, L3())


def test_build_cache_on_real_redis(redis_url):  # noqa: F811
    p = load_params(overrides={"cache": {"L2": {"url": redis_url}}})
    cache = build_cache(p.cache, L3(), embed=fake_embed)
    cache.l2.prefix = "tiered-test:"
    assert cache.get(q()).level == "L3"
    cache.l1.clear()
    assert cache.get(q()).level == "L2"
    cache.invalidate("search:*")
    cache.l1.clear()
    assert cache.get(q()).level == "L3"
    cache.l2.clear()

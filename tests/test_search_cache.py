"""The search pipeline behind the multi-level cache: hits, pagination from one entry, facets never shared."""
from __future__ import annotations

import pytest

from mgw.config import CacheParams
from mgw.search import CachedSearch
from test_search import pipe  # noqa: F401  (the module-scoped small pipeline)


@pytest.fixture
def cached(pipe):  # noqa: F811
    return CachedSearch(pipe, CacheParams())


def test_second_call_is_a_hit_with_the_same_results(cached, pipe):  # noqa: F811
    first = cached.search("space robots on netflix in the US", k=5)
    second = cached.search("space robots on netflix in the US", k=5)
    assert first["metadata"]["from_cache"] is False and first["metadata"]["cache_level"] == "L3"
    assert second["metadata"]["from_cache"] is True and second["metadata"]["cache_level"] == "L1"
    assert [r["id"] for r in first["results"]] == [r["id"] for r in second["results"]]
    direct = pipe.search("space robots on netflix in the US", k=5)
    assert [r["id"] for r in direct["results"]] == [r["id"] for r in first["results"]]


def test_pages_come_from_one_entry(cached, pipe):  # noqa: F811
    cached.search("village baking", k=5)
    page2 = cached.search("village baking", k=5, offset=5, explain=True)
    assert page2["metadata"]["from_cache"] is True and page2["debug"]["cacheHit"] is True
    assert [r["id"] for r in page2["results"]] == [r["id"] for r in pipe.search("village baking", k=10)["results"][5:]]
    assert page2["pagination"]["offset"] == 5 and page2["pagination"]["limit"] == 5


@pytest.mark.parametrize("a,b", [("comedies on netflix", "comedies not on netflix"),
                                 ("comedies on netflix in the US", "comedies on netflix in the UK")])
def test_different_facets_never_share_an_entry(cached, a, b):
    cached.search(a)
    other = cached.search(b)
    assert other["metadata"]["from_cache"] is False
    assert other["filters"] != cached.search(a)["filters"]


def test_users_do_not_share_entries(cached):
    cached.search("space robots", user="u1")
    assert cached.search("space robots", user="u2")["metadata"]["from_cache"] is False
    assert cached.search("space robots", user="u1")["metadata"]["from_cache"] is True


def test_forget_user_deletes_their_entries_and_the_store_hook_calls_it(cached):
    from mgw.store import stores

    cached.search("space robots", user="gone")
    cached.search("space robots", user="stays")
    assert any(":u=gone:" in k for k in cached.cache.l1.keys())
    hooks = [cached.cache.forget_user]
    assert [h("gone") for h in hooks] == [2]  # one entry in L1, one in L2; what Stores.forget does with FORGETTERS
    assert not any(":u=gone:" in k for k in cached.cache.l1.keys())
    assert cached.search("space robots", user="stays")["metadata"]["from_cache"] is True
    assert cached.search("space robots", user="gone")["metadata"]["from_cache"] is False
    assert isinstance(stores.FORGETTERS, list)

"""The small real catalog of the real-data tests (mgw.data.subset): kept listings, per-platform quotas, seeded."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mgw.data.subset import stratified_subset
from mgw.errors import DataError


def catalog(counts: dict[str, int]) -> pd.DataFrame:
    rows = [{"id": f"{p}:s{i}", "platform": p, "title": f"t{i}"} for p, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["id", "platform", "title"])


@given(counts=st.dictionaries(st.sampled_from(["netflix", "prime", "hulu", "disney"]), st.integers(0, 40), min_size=1),
       per=st.integers(0, 50), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_keeps_every_named_listing_and_draws_the_quota_per_platform(counts, per, seed, data):
    items = catalog(counts)
    keep = set(data.draw(st.lists(st.sampled_from(list(items["id"]) or ["x"]), max_size=20)))
    out = stratified_subset(items, per, seed, keep)
    assert keep & set(items["id"]) <= set(out["id"])
    assert out["id"].is_unique and list(out.index) == list(range(len(out)))
    assert list(out["id"]) == [i for i in items["id"] if i in set(out["id"])]  # original order
    for p, n in counts.items():
        kept = len({i for i in keep if i.startswith(p + ":")})
        assert (out["platform"] == p).sum() == kept + min(per, n - kept)


def test_seeded():
    items = catalog({"netflix": 500, "hulu": 300})
    a, b = stratified_subset(items, 50, 7), stratified_subset(items, 50, 7)
    assert a.equals(b)
    assert not a.equals(stratified_subset(items, 50, 8))


def test_negative_quota_is_a_typed_error():
    with pytest.raises(DataError, match="per_platform"):
        stratified_subset(catalog({"netflix": 3}), -1, 0)

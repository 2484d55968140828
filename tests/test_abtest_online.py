"""Click model, ranking metrics from lists, team-draft interleaving."""
import numpy as np
import pytest

from mgw.abtest.clickmodel import PositionBasedModel, list_metrics, relevance_matrix
from mgw.abtest.interleaving import TEAM_A, TEAM_B, credit, team_draft
from mgw.errors import DataError


def test_list_metrics_hand_example():
    rel = np.array([[True, False, True], [False, False, False]])
    m = list_metrics(rel, np.array([2, 3]), k=3)
    ideal = 1 + 1 / np.log2(3)
    assert m["ndcg@3"].tolist() == pytest.approx([(1 + 1 / np.log2(4)) / ideal, 0.0])
    assert m["recall@3"].tolist() == [1.0, 0.0]
    assert m["mrr@3"].tolist() == [1.0, 0.0]
    assert m["hitrate@3"].tolist() == [1.0, 0.0]


def test_relevance_matrix():
    rel = relevance_matrix(np.array([[5, 6, -1], [7, 8, 9]]), ["u", "v"], {"u": {6}, "v": {9, 100}})
    assert rel.tolist() == [[False, True, False], [False, False, True]]
    with pytest.raises(DataError):
        relevance_matrix(np.array([[1, 2]]), ["u", "v"], {})


def test_pbm_simulated_ctr_matches_expectation():
    rng = np.random.default_rng(0)
    rel = rng.random((300, 10)) < 0.2
    model = PositionBasedModel(eta=1.0, attract_relevant=0.8, attract_irrelevant=0.05)
    ctr = model.simulate(rel, 200, rng).any(axis=2).mean()
    assert ctr == pytest.approx(model.expected_ctr(rel).mean(), abs=0.01)
    # position bias: top slot clicked more than the last one at equal relevance
    clicks = model.simulate(np.ones((300, 10), bool), 50, rng)
    assert clicks[..., 0].mean() > 3 * clicks[..., -1].mean()
    with pytest.raises(DataError):
        PositionBasedModel(attract_relevant=1.5).click_probs(rel)


def test_team_draft_properties():
    rng = np.random.default_rng(1)
    a = np.array([rng.permutation(20)[:10] for _ in range(500)])
    b = np.array([rng.permutation(20)[:10] for _ in range(500)])
    shown, team = team_draft(a, b, 10, rng)
    for s in range(500):
        assert len(set(shown[s])) == 10
        assert abs((team[s] == TEAM_A).sum() - (team[s] == TEAM_B).sum()) <= 1
        for item, t in zip(shown[s], team[s]):
            assert item in (a[s] if t == TEAM_A else b[s])
    # the first pick is a's or b's top item, each about half the time
    first_a = team[:, 0] == TEAM_A
    assert np.all(shown[first_a, 0] == a[first_a, 0]) and 0.4 < first_a.mean() < 0.6
    same, _ = team_draft(a, a, 10, rng)
    assert np.array_equal(same, a)


def test_credit():
    team = np.array([[0, 1, 0, 1]] * 3)
    clicks = np.array([[1, 0, 0, 0], [0, 1, 0, 1], [1, 1, 0, 0]], bool)
    assert credit(clicks, team).tolist() == [-1, 1, 0]

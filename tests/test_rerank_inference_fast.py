"""The serving Reranker's numpy GAT pass (precomputed per-item projections) equals the model's own torch pass."""
from __future__ import annotations

import numpy as np
import torch

from mgw.rerank.inference import NodeCache, Reranker
from mgw.rerank.model import GATReranker


def test_numpy_user_pass_with_precomputed_projections_matches_torch():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n, d, h = 50, 16, 32
    x = rng.normal(size=(n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    model = GATReranker(d, h, heads=8, dropout=0.1).eval()
    item_h1 = torch.randn(n, h)
    rr = Reranker(model, [f"i{i}" for i in range(n)], NodeCache(torch.from_numpy(x), item_h1, torch.randn(n, h)),
                  ["u0"], torch.randn(1, h), torch.zeros(1, h), None, [])
    for size in (20, 3, 0):
        items = np.sort(rng.choice(n, size, replace=False))
        pref = rng.normal(size=d).astype(np.float32)
        pref /= np.linalg.norm(pref)
        got = rr._user_from_history(pref, items)
        with torch.no_grad():
            want = model.user_from_history(torch.from_numpy(pref)[None], torch.from_numpy(x), item_h1,
                                           torch.from_numpy(items).long(), torch.zeros(size, dtype=torch.long))[0]
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)

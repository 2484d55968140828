"""GAT reranker between ANN retrieval and the user (seed §1.1.2, §3.2.3), its baselines, evaluation and
versioned registry (§2.3.3). `load_reranker("production")` gives a served model."""
from __future__ import annotations


def load_reranker(ref: str = "production", params=None, registry_dir=None):
    """The registered reranker for an alias (production|candidate) or semver; raises UnknownIdError if absent."""
    from mgw.rerank.registry import load_reranker as _load

    return _load(ref, params, registry_dir)

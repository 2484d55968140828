"""Entity resolution: blocking, comparisons, mgw's evidence model and splink, clustering, evaluation.

`resolve(items, params)` is the one entry point; the stage (mgw.data.stages.run_resolve) adds the
side-by-side engine comparison and the gold-set evaluation. See docs/resolve.md.
"""
from mgw.data.resolve.evaluate import exact_duplicate_pairs, pairwise_scores
from mgw.data.resolve.resolver import Resolution, prepare, resolve, resolve_with

__all__ = ["Resolution", "exact_duplicate_pairs", "pairwise_scores", "prepare", "resolve", "resolve_with"]

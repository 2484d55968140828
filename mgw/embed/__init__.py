"""Text embeddings (seed §3.2.2): model resolution, the torch and ONNX Runtime runtimes, the content-hash
disk cache, the query LRU, and the side-by-side comparison of runtimes (`compare.py`)."""
from __future__ import annotations

from mgw.embed.cache import EmbeddingCache, QueryEmbeddingLRU
from mgw.embed.embedder import Embedder
from mgw.embed.model import PACKAGED_MODELS, entity_text, resolve_model_path, weights_hash
from mgw.embed.runtimes import RUNTIMES

__all__ = ["Embedder", "EmbeddingCache", "QueryEmbeddingLRU", "PACKAGED_MODELS", "RUNTIMES", "entity_text",
           "resolve_model_path", "weights_hash"]

"""Multi-level cache (seed §2.1.3, §2.4): L1 LRU+TTL, L2 LFU+TTL (in process or Redis), L3 = a callable.

Read path and invalidation live in `tiered.py`; keys that never mix facets in `keys.py`;
the offline simulator (Zipf / MovieLens traces, Belady) in `simulator.py`.
"""
from mgw.cache.base import CacheBackendError, Entry, SerializationError
from mgw.cache.l1 import LRUCache
from mgw.cache.l2 import LFUCache

__all__ = ["CacheBackendError", "Entry", "LFUCache", "LRUCache", "SerializationError"]

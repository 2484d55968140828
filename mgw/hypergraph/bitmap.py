"""Packed bitmaps over title indices (uint64 words, little-endian bit order): the store's set algebra.

AND/OR/ANDNOT on 1M titles touch 15,625 words, a few microseconds each; that is why the store keeps one
bitmap per leaf (platform×region, genre, type, year, rating) instead of walking hyperedges per query.
"""
from __future__ import annotations

import numpy as np


def n_words(n: int) -> int:
    return (n + 63) // 64


def empty(n: int) -> np.ndarray:
    return np.zeros(n_words(n), dtype=np.uint64)


def full(n: int) -> np.ndarray:
    """All n bits set; the padding bits past n stay 0 so counts and complements stay exact."""
    return from_indices(np.arange(n), n)


def from_indices(idx: np.ndarray, n: int) -> np.ndarray:
    bits = np.zeros(n_words(n) * 64, dtype=bool)
    bits[np.asarray(idx, dtype=np.int64)] = True
    return np.packbits(bits, bitorder="little").view(np.uint64)


def to_indices(words: np.ndarray) -> np.ndarray:
    """Sorted title indices whose bit is set. Sparse results unpack only their non-zero words."""
    nz = np.flatnonzero(words)
    if len(nz) * 4 >= len(words):
        return np.flatnonzero(np.unpackbits(words.view(np.uint8), bitorder="little"))
    pos = np.flatnonzero(np.unpackbits(words[nz].view(np.uint8), bitorder="little"))
    return nz[pos >> 6] * 64 + (pos & 63)


def count(words: np.ndarray) -> int:
    return int(np.bitwise_count(words).sum()) if hasattr(np, "bitwise_count") else int(
        np.unpackbits(words.view(np.uint8)).sum())


def union_rows(rows: np.ndarray, n: int) -> np.ndarray:
    """OR of a 2-D stack of bitmaps (e.g. the years of a range)."""
    if len(rows) == 0:
        return empty(n)
    return np.bitwise_or.reduce(rows, axis=0)

"""The per-listing columns both engines compare and block on, as one Arrow table.

Why a table of its own: splink (DuckDB) and mgw's comparison SQL read the same columns, and the synopsis
vectors go in as a fixed-size FLOAT[dim] array so DuckDB's `array_cosine_similarity` applies.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mgw.data.normalize import normalize_title
from mgw.data.resolve.blocking import block_tokens
from mgw.data.resolve.keys import person_key, title_core, title_key


def _people(row: Any) -> list[str]:
    return list(dict.fromkeys(k for k in map(person_key, list(row["cast"]) + list(row["directors"])) if k))


def listing_frame(items: pd.DataFrame, tokens: int, max_token_share: float) -> pd.DataFrame:
    """One row per listing (same order as `items`): ids, type, year, runtime, title keys and how many listings
    share the title, people, block tokens."""
    keys = items["title"].map(title_key)
    cores = items["title"].map(title_core)
    return pd.DataFrame({
        "unique_id": items["id"].to_numpy(),
        "platform": items["platform"].to_numpy(),
        "type": items["type"].to_numpy(),
        "release_year": items["release_year"].astype("Int64"),
        "seasons": items["seasons"].astype(float),
        "duration_min": items["duration_min"].astype(float),
        "title_norm": items["title"].map(normalize_title).to_numpy(),
        "title_core": cores.to_numpy(),
        "title_count": cores.map(cores.value_counts()).to_numpy(),
        "title_key": keys.to_numpy(),
        "title_squash": keys.str.replace(" ", "", regex=False).to_numpy(),
        "title_tokens": keys.map(lambda k: sorted(set(k.split()))).to_numpy(),
        "people": [_people(r) for r in items[["cast", "directors"]].to_dict("records")],
        "block_tokens": block_tokens(keys, tokens, max_token_share),
    }).reset_index(drop=True)


def listing_table(frame: pd.DataFrame, synopsis: np.ndarray, has_synopsis: np.ndarray) -> pa.Table:
    """`frame` plus `synopsis_vec` (FLOAT[dim], null where the listing has no synopsis) and a row number."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    dim = synopsis.shape[1]
    flat = pa.array(np.ascontiguousarray(synopsis, dtype=np.float32).ravel())
    vecs = pa.FixedSizeListArray.from_arrays(flat, dim, mask=pa.array(~np.asarray(has_synopsis, dtype=bool)))
    return table.append_column("synopsis_vec", vecs).append_column("row", pa.array(np.arange(len(frame))))

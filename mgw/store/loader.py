"""Load the pipeline's catalog + embeddings into the content store, one transaction per batch, resumable:
rows already present are skipped, so a killed load can simply be run again."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from mgw.data.schema import ContentEntity, column_names
from mgw.errors import DataError
from mgw.store.content import ContentStore


def _clean(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_clean(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def load_catalog(store: ContentStore, catalog: str | Path, embeddings: str | Path, ids: str | Path,
                 batch: int = 100) -> dict[str, Any]:
    cat = pd.read_parquet(catalog)
    vecs = np.load(embeddings)
    id_list = json.loads(Path(ids).read_text())
    if len(id_list) != len(vecs):
        raise DataError(f"{ids}: {len(id_list)} ids for {len(vecs)} embeddings")
    row_of = {e: i for i, e in enumerate(id_list)}
    missing = [e for e in cat["entity_id"] if e not in row_of]
    if missing:
        raise DataError(f"{len(missing)} catalog rows have no embedding (e.g. {missing[:3]})")
    have = set(store.ids())
    cols = [c for c in column_names(ContentEntity) if c in cat.columns]
    todo = cat[~cat["entity_id"].isin(have)]
    # bulk load: batches stay in the exact delta (still searchable, still one durable transaction each);
    # one index build at the end instead of a compaction every few batches
    saved = store.compact_min
    store.compact_min = len(have) + len(todo) + 1
    try:
        for s in tqdm(range(0, len(todo), batch), desc="store load", leave=False):
            part = todo.iloc[s:s + batch]
            docs = [{c: _clean(r[c]) for c in cols} for r in part.to_dict("records")]
            store.insert_batch(docs, vecs[[row_of[e] for e in part["entity_id"]]])
    finally:
        store.compact_min = saved
    store.compact()
    return {"rows": len(store), "inserted": len(todo), "skipped_present": len(cat) - len(todo), "version": store.version}

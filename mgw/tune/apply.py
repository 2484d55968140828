"""`mgw tune --apply`: write the chosen HNSW configuration into params.yaml's `index:` section.

Round-trips the file with ruamel.yaml so comments, key order and flow-style lists survive; the new
file is validated with `load_params` before it replaces the old one, so a bad write changes nothing."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from mgw.config import DEFAULT_PARAMS, IndexParams, load_params
from mgw.errors import NotSupportedError
from mgw.index import index_spec
from mgw.tune import harness


def index_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Chosen tuning config → `index.*` keys. They are checked through `mgw.index.index_spec` (the one
    params → index mapping): the written keys must describe exactly the index the tuner built."""
    lib, _ = harness.BACKENDS[config["backend"]]
    out: dict[str, Any] = {"backend": lib, "M": int(config["M"]), "efConstruction": int(config["efConstruction"]),
                           "efSearch": int(config["efSearch"])}
    tuned = index_spec(IndexParams(**out), config["backend"])
    if "factory" in tuned[1]:
        out["factory"] = tuned[1]["factory"]
    if index_spec(IndexParams(**out)) != tuned:
        raise NotSupportedError(f"cannot express {config} in params.yaml index: (it maps to "
                                f"{index_spec(IndexParams(**out))}, the tuner built {tuned})")
    return out


def round_trip_yaml():
    """ruamel.yaml in round-trip mode (comments, order, flow lists kept), writing None as `null`."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.representer.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml


def apply_config(config: dict[str, Any], params_path: str | Path | None = None) -> dict[str, Any]:
    """Set index.<key> for the chosen config in params.yaml; returns {dotted key: (old, new)}."""
    path = Path(params_path) if params_path else DEFAULT_PARAMS
    yaml = round_trip_yaml()
    doc = yaml.load(path.read_text())
    section = doc.setdefault("index", {})
    changes = {}
    for key, value in index_settings(config).items():
        changes[f"index.{key}"] = (section.get(key), value)
        section[key] = value
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as f:
            yaml.dump(doc, f)
        load_params(tmp, environ={})  # validate before replacing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return changes

"""Result files: metrics JSON with provenance, and papermill-executed notebook reports."""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mgw.config import ROOT
from mgw.provenance import stamp

METRICS_DIR = ROOT / "reports" / "metrics"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Write JSON via temp file + fsync + rename so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(_jsonable(payload), f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_metrics(name: str, payload: dict[str, Any], *, seed: int | None = None, threads: int | None = None,
                  metrics_dir: str | Path | None = None) -> Path:
    """reports/metrics/<name>.json with a `_provenance` block (machine, versions, seed, threads)."""
    out = dict(payload)
    out["_provenance"] = stamp(seed=seed, threads=threads)
    return write_json_atomic(Path(metrics_dir or METRICS_DIR) / f"{name}.json", out)


def read_metrics(name: str, metrics_dir: str | Path | None = None) -> dict[str, Any] | None:
    path = Path(metrics_dir or METRICS_DIR) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def render_notebook(notebook: str | Path, html_out: str | Path, parameters: dict[str, Any] | None = None,
                    kernel: str = "python3", with_code: bool = False) -> Path:
    """Execute a notebook with papermill (parameters injected), then export it to HTML: findings and results only —
    no input cells unless `with_code`, no prompts, no stderr streams (warnings and progress bars are a reader's
    noise; the executed .ipynb next to the HTML keeps them)."""
    import logging

    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    html_out = Path(html_out)
    html_out.parent.mkdir(parents=True, exist_ok=True)
    executed = html_out.with_suffix(".ipynb")
    logging.getLogger("papermill").setLevel(logging.WARNING)
    quiet_env = {"TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
    saved = {k: os.environ.get(k) for k in quiet_env}
    os.environ.update(quiet_env)  # the kernel inherits them: no tqdm bars, no warnings printed at import
    try:
        pm.execute_notebook(str(notebook), str(executed), parameters=parameters or {}, kernel_name=kernel,
                            cwd=str(ROOT), progress_bar=False, log_output=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nb = nbformat.read(str(executed), as_version=4)
    stripped = strip_stderr(nb)
    if stripped:
        logging.getLogger(__name__).info("%d stderr output(s) left out of %s (kept in %s)", stripped, html_out, executed)
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True, exclude_input=not with_code)
    body, _ = exporter.from_notebook_node(nb)
    html_out.write_text(body)
    return html_out


def strip_stderr(nb: Any) -> int:
    """Remove stderr stream outputs from every cell (in place); returns how many were removed."""
    n = 0
    for cell in nb.cells:
        outs = cell.get("outputs")
        if not outs:
            continue
        keep = [o for o in outs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        n += len(outs) - len(keep)
        cell["outputs"] = keep
    return n


def sha256_file(path: str | Path) -> str:
    """Checksum of a file, read in 1 MiB blocks (manifests, snapshots, registry, datasets)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

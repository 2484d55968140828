"""What every notebook does in its first cells, in one place: quiet, styled output (`setup`), the "Findings" block
(`show_findings`), and the one fallback when pipeline outputs are missing (`load_or_compute`)."""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mgw.config import ROOT

#: shown by a notebook that had to compute its own small run
DEMO_NOTE = ("DEMO: {what} absent, so this notebook ran a small labelled demo ({demo}). "
             "Numbers below are not results: run `{how}` for the real ones.")


def setup() -> None:
    """First cell of every notebook: no warnings or progress bars in the output, the shared figure style, wide
    tables. Rendered reports must not show stderr (reporting.render_notebook strips what is left)."""
    from mgw import plotstyle

    os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm ≥ 4.66 reads TQDM_* defaults; also set by render_notebook
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    for noisy in ("lightning", "pytorch_lightning", "lightning.pytorch", "optuna", "splink", "numba"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    plotstyle.apply()
    try:
        import pandas as pd

        pd.set_option("display.width", 200)
        pd.set_option("display.max_columns", 30)
        pd.set_option("display.precision", 4)
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass


def resolve(path: str | Path) -> Path:
    """A notebook parameter path: absolute stays absolute, relative is relative to the repository."""
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def load_or_compute(path: str | Path | Sequence[str | Path], compute: Callable[[], Any], *, how: str, demo: str,
                    load: Callable[..., Any] | None = None) -> tuple[Any, str | None]:
    """The pipeline's output at `path` (or at every path of a list) when it exists, else `compute()`, a small demo.

    `load` reads the existing path(s) (default: JSON for one .json path, else the path itself). Returns
    (data, note): note is None for pipeline outputs, and a DEMO label naming what was missing, what ran instead
    and the command (`how`) that produces the real thing — so no notebook passes a demo off as a result."""
    import json

    paths = [resolve(path)] if isinstance(path, (str, Path)) else [resolve(p) for p in path]
    missing = [p for p in paths if not p.exists()]
    if not missing:
        if load is not None:
            return load(*paths), None
        only = paths[0]
        return (json.loads(only.read_text()) if len(paths) == 1 and only.suffix == ".json" else paths), None
    what = ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in missing)
    return compute(), DEMO_NOTE.format(what=what, demo=demo, how=how)


FULL_BENCH = ("`dvc exp run -S 'bench.datasets=[catalog-minilm-384,synth-20k]' -S bench.grid=full "
              "-S bench.queries=1000`")


def run_note(report: str) -> str:
    """How big the run behind a report was (the first-look defaults of params.yaml), and the switch to a full run."""
    from mgw.config import load_params

    try:
        p = load_params()
    except Exception:  # noqa: BLE001 - a note must never break a report
        return ""
    notes = {
        "01_": lambda: (f"{sum(p.simulated.contentCount.values()):,} simulated listings" if p.data.source == "simulated"
                        else "the real catalogs") + f"; resolver CIs from {p.resolve.bootstrap} bootstrap resamples, "
                        f"{p.embed.compare_texts} texts in the runtime comparison.",
        "02_": lambda: f"datasets {', '.join(p.bench.datasets)}; bench.grid={p.bench.grid}, {p.bench.queries} queries × "
                       f"{p.bench.runs} runs. Full benchmark: {FULL_BENCH}.",
        "03_": lambda: f"{p.tune.trials} Optuna trials on {p.tune.queries} queries. More: `dvc exp run -S tune.trials=48`.",
        "04_": lambda: f"{p.gnn.epochs} GAT epochs × {p.gnn.seeds} seed(s), ablations {'on' if p.gnn.ablations else 'off'}, "
                       f"LightGCN {p.gnn.lightgcn_epochs}, {p.gnn.bootstrap} bootstrap resamples. Fuller: `dvc exp run "
                       "-S gnn.epochs=20 -S gnn.lightgcn_epochs=60 -S gnn.seeds=3 -S gnn.ablations=true`.",
        "07_": lambda: f"{p.store.crash_runs} SIGKILLs. More: `dvc exp run -S store.crash_runs=100`.",
        "08_": lambda: f"{p.cache.sim_requests:,} simulated requests per workload. More: "
                       "`dvc exp run -S cache.sim_requests=100000`.",
        "09_": lambda: f"Scenarios at scale {p.sim.scale} of the seed's sizes (`dvc exp run -S sim.scale=1.0` for full size).",
    }
    size = notes.get(report[:3], lambda: "")()
    return f"Run: {p.data.source} data, seed {p.seed}, first-look sizes of params.yaml. {size}".strip()


def show_findings(report: str, demo_note: str | None = None, reports: str | Path | None = None) -> None:
    """Display the report's Findings block (mgw.findings) as Markdown, with the demo label when there is one."""
    from IPython.display import Markdown, display

    from mgw import findings

    md = findings.markdown(report, reports or ROOT / "reports", run_note=run_note(report))
    if demo_note:
        md += f"\n\n**{demo_note}**"
    display(Markdown(md))

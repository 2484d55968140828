"""One figure style for every report: applied by `mgw.notebook.setup()` in each notebook's first cell, so the
reports share fonts, sizes, colours and grid without each notebook styling its own plots."""
from __future__ import annotations

from typing import Any

#: colour cycle (colour-blind safe, Okabe–Ito) and the rcParams every report figure uses
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
RC: dict[str, Any] = {
    "figure.figsize": (7.0, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
}


def apply() -> None:
    """Set the report style on matplotlib's global rcParams (idempotent)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(RC)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))

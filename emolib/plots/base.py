"""What every figure shares: the emotions' colours, new axes when none are given, and :func:`save`."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns

from ..core.env import figures_dir
from ..data.emodb import CLASSES

EMOTION_COLORS = dict(zip(CLASSES, sns.color_palette("colorblind", len(CLASSES))))


def figure_axes(ax, figsize):
    """``(figure, axes)``: the given axes and their figure, or a new figure of ``figsize`` with one axes."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def save(fig: matplotlib.figure.Figure, name: str) -> None:
    """Write ``<figures_dir()>/<name>.png`` at 150 dpi: ``figures/`` for the full run on
    EmoDB, a subfolder for smoke runs and other corpora.  Returns nothing, so that a
    notebook cell ending in ``plots.save(…)`` shows the same output in every profile."""
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{name}.png", dpi=150, metadata={"Software": None})

"""How far a system's answers can be trusted: reliability diagrams, UAR against degradation."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


#: Fewest predictions a reliability bin needs to be drawn.
MIN_BIN = 5


def reliability(diagrams: dict[str, pd.DataFrame], title: str):
    """One panel per ``{name: table}`` of :func:`emolib.evaluation.calibration.reliability` (per confidence bin:
    n, confidence, accuracy): accuracy against confidence (the diagonal is perfect calibration), bars the
    share of predictions in each bin (dotted). Bins holding fewer than ``MIN_BIN`` predictions are left out of
    the bars and the line: their accuracy is noise."""
    fig, axes = plt.subplots(1, len(diagrams), figsize=(4.2 * len(diagrams), 4.2), layout="constrained",
                             squeeze=False)
    for ax, (name, table) in zip(axes[0], diagrams.items()):
        mid = (table.low + table.high) / 2
        enough = table.n >= MIN_BIN
        ax.bar(mid[enough], table.accuracy[enough], width=(table.high - table.low)[enough], color="C0", alpha=0.75,
               edgecolor="white", label="accuracy in the bin")
        ax.plot([0, 1], [0, 1], color="0.3", ls="--", lw=1, label="perfect calibration")
        ax.plot(table.confidence[enough], table.accuracy[enough], color="C3", marker="o", ms=3, lw=1,
                label="accuracy at the bin's mean confidence")
        share = table.n / max(table.n.sum(), 1)
        ax2 = ax.twinx()
        ax2.plot(mid, 100 * share, color="0.5", ls=":", marker=".", lw=1)
        ax2.set(ylim=(0, 100), ylabel="% of predictions (dotted)")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top class probability)", ylabel="accuracy", title=name)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    return fig


def robustness(table: pd.DataFrame, title: str, families: dict[str, list[str]] | None = None):
    """UAR (%) of each system and training (``table``: :func:`emolib.studies.robustness.table`) against SNR
    for each noise and against RT60, the clean UAR at the left of each panel."""
    noise = {k: [f"{k}_{s}db" for s in (20, 10, 0)] for k in ("white", "pink", "babble")}
    panels = {**{f"{k} noise": v for k, v in noise.items()}, "reverberation": ["reverb_0.3s", "reverb_0.6s", "reverb_1s"],
              "line, codec, level": ["telephone", "ogg", "mp3", "gain_plus20db", "gain_minus20db", "clipping"]}
    panels = families or panels
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.8), layout="constrained", sharey=True,
                             squeeze=False)
    for ax, (name, cols) in zip(axes[0], panels.items()):
        xs = ["clean", *cols]
        ordered = "noise" in name or name == "reverberation"  # a scale to draw lines along; the last panel has none
        systems = list(dict.fromkeys(table.index.get_level_values(0)))  # one colour per system, both trainings
        for (system, training), row in table.iterrows():
            ax.plot(range(len(xs)), [row.get(c, np.nan) for c in xs], marker="o" if training == "clean" else "s", ms=4,
                    ls=("-" if training == "clean" else "--") if ordered else "none", color=f"C{systems.index(system)}",
                    label=f"{system}" + (", multi-condition" if training != "clean" else ""))
        labels = ["clean"] + [c.split("_")[-1].replace("db", " dB") if ordered else
                              c.replace("gain_plus", "+").replace("gain_minus", "−").replace("db", " dB") for c in cols]
        ax.set(xticks=range(len(xs)), xticklabels=labels, title=name,
               xlabel="SNR" if "noise" in name else "RT60" if ordered else "condition")
        if not ordered:
            ax.tick_params(axis="x", labelrotation=45)
        ax.axhline(100 / 7, color="0.6", ls=":", lw=1)
    axes[0][0].set(ylabel="SI-5 UAR (%)")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.suptitle(title)
    return fig

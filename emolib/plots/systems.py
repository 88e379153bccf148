"""Figures of systems' results: confusions, per-class recall, the protocol gap, a prediction, the
error analysis and the comparison of systems (notebooks 04–08)."""
from __future__ import annotations

import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..data.emodb import CLASSES
from ..data.features import LogMelConfig
from .base import EMOTION_COLORS, figure_axes


def confusion_heatmap(cm: pd.DataFrame, title: str, ax=None, colorbar: bool = True):
    """Row-normalised confusion matrix (rows: true emotion), in percent."""
    fig, ax = figure_axes(ax, (6, 5))
    sns.heatmap(100 * cm, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100, square=True, cbar=colorbar,
                cbar_kws={"label": "% of true class"} if colorbar else None, ax=ax)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return fig


def recall_comparison(recalls: pd.DataFrame, ax=None):
    """Per-class recall of several methods side by side: columns are methods, values in %."""
    fig, ax = figure_axes(ax, (7.5, 3.6))
    recalls.reindex(CLASSES).plot.bar(ax=ax, rot=0)
    ax.set(ylabel="recall (%)", ylim=(0, 100), title="Per-class recall")
    ax.legend(fontsize=8)
    return fig


def protocol_gap(table: pd.DataFrame, board: pd.DataFrame | None = None):
    """SI-5 against EmoBox's speaker-dependent folds (:func:`emolib.studies.emobox.comparison`): one line per
    system from its SI-5 UAR (open circle) to its EmoBox UAR (filled), without (left) and with (right)
    speaker normalisation, the difference written beside it; EmoBox's quoted leaderboard (``board``,
    UA, no speaker normalisation) as grey ticks along the top of the left panel.  Missing rows are
    left out."""
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 0.55 * len(table) + 2.4), sharey=True, sharex=True,
                             layout="constrained")
    y = np.arange(len(table))[::-1]
    values = table[["SI-5", "EmoBox", "SI-5 spk-norm", "EmoBox spk-norm"]].to_numpy(dtype=float)
    lo = 5 * np.floor((np.nanmin(values) - 4) / 5)
    for ax, (si5, box, title) in zip(axes, (("SI-5", "EmoBox", "without speaker normalisation"),
                                            ("SI-5 spk-norm", "EmoBox spk-norm", "with speaker normalisation"))):
        for yi, (_, r) in zip(y, table.iterrows()):
            if np.isnan(r[si5]) or np.isnan(r[box]):
                continue
            ax.plot([r[si5], r[box]], [yi, yi], color="0.6", lw=2, zorder=1)
            ax.scatter(r[si5], yi, s=60, facecolor="white", edgecolor="C0", lw=1.8, zorder=2)
            ax.scatter(r[box], yi, s=60, color="C3", zorder=2)
            ax.annotate(f"{r[box] - r[si5]:+.1f}", (max(r[si5], r[box]), yi), xytext=(7, -3),
                        textcoords="offset points", fontsize=8)
        ax.set(title=title, xlabel="pooled UAR over 535 utterances (%)", xlim=(lo, 97))
        ax.grid(axis="x", alpha=0.3)
    marks = [matplotlib.lines.Line2D([], [], ls="", marker="o", mfc="white", color="C0", label="SI-5 (speaker-independent)"),
             matplotlib.lines.Line2D([], [], ls="", marker="o", color="C3", label="EmoBox folds (speaker-dependent)")]
    if board is not None:
        for ua in board.ua:
            axes[0].plot([ua, ua], [len(table) - 0.55, len(table) - 0.25], color="0.45", lw=1.5)
        marks.append(matplotlib.lines.Line2D([], [], ls="", marker="|", markersize=10, color="0.45",
                                             label="EmoBox leaderboard, UA (quoted; outside pretraining)"))
    axes[0].set_ylim(-0.6, len(table) - 0.2)
    axes[0].set_yticks(y, ["\n".join(textwrap.wrap(s, 34)) for s in table.index], fontsize=8)
    fig.legend(handles=marks, loc="outside lower center", ncol=3, fontsize=8)
    return fig


def prediction(mel: np.ndarray, probabilities: dict[str, float], windows=(), title: str = "",
               cfg: LogMelConfig = LogMelConfig()):
    """What ``predict`` says about one recording: its log-mel, the seven class probabilities as bars
    and, when it was scored in windows (``windows``: objects with ``start``, ``end`` and
    ``probabilities``, :class:`emolib.systems.predict.Prediction`), each emotion's probability over time."""
    import librosa.display

    over_time = len(windows) > 1
    fig = plt.figure(figsize=(10, 5.8 if over_time else 3.4), layout="constrained")
    grid = fig.add_gridspec(2 if over_time else 1, 2, width_ratios=[2.2, 1])
    spec = fig.add_subplot(grid[0, 0])
    librosa.display.specshow(mel, sr=cfg.sample_rate, hop_length=cfg.hop_length, x_axis="time", y_axis="mel",
                             fmin=cfg.fmin, fmax=cfg.fmax, cmap="magma", ax=spec)
    spec.set(xlabel="time (s)", ylabel="frequency (Hz)", title=title)
    bars = fig.add_subplot(grid[0, 1])
    values = [100 * probabilities[c] for c in CLASSES]
    bars.barh(CLASSES, values, color=[EMOTION_COLORS[c] for c in CLASSES])
    bars.invert_yaxis()
    bars.set(xlim=(0, 100), xlabel="probability (%)", title="whole recording")
    for i, v in enumerate(values):
        bars.text(min(v + 2, 80), i, f"{v:.0f}", va="center", fontsize=8)
    if over_time:
        ax = fig.add_subplot(grid[1, :], sharex=spec)
        mid = np.array([(w.start + w.end) / 2 for w in windows])
        for c in CLASSES:
            ax.plot(mid, [100 * w.probabilities[c] for w in windows], marker="o", ms=3, lw=1.5,
                    color=EMOTION_COLORS[c], label=c)
        ax.set(xlabel="time (s), window centres", ylabel="probability (%)", ylim=(0, 100),
               title=f"emotion over time ({len(windows)} windows of {windows[0].end - windows[0].start:.1f} s)")
        ax.legend(fontsize=7, ncol=7, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    return fig


def error_analysis(confusions: dict[str, pd.DataFrame], by_speaker: pd.DataFrame):
    """Row-normalised confusion matrices of one or more systems (title: matrix) beside each system's
    UAR per test speaker (``by_speaker``: speakers x systems, in %)."""
    n = len(confusions)
    fig, axes = plt.subplots(1, n + 1, figsize=(5.2 * n + 4.5, 4.6), layout="constrained",
                             gridspec_kw={"width_ratios": [1] * n + [0.9]})
    for ax, (title, cm) in zip(axes, confusions.items()):
        confusion_heatmap(cm, title, ax=ax, colorbar=False)
    by_speaker.plot.barh(ax=axes[-1], width=0.8)
    axes[-1].invert_yaxis()
    axes[-1].set(xlabel="UAR (%)", ylabel="test speaker", xlim=(0, 100), title="UAR per speaker")
    axes[-1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    return fig


def system_comparison(table: pd.DataFrame):
    """SI-5 UAR of each model without and with speaker normalisation (``emolib.systems.final.comparison``),
    the default's candidates in bold."""
    data = table[["UAR raw", "UAR spk-norm"]].iloc[::-1]
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(data) + 1.2), layout="constrained")
    data.plot.barh(ax=ax, width=0.8, color=["0.55", "tab:blue"])
    for i, v in enumerate(data.to_numpy().ravel(order="F")):
        if np.isfinite(v):
            row, col = i % len(data), i // len(data)
            ax.text(v + 0.5, row + (col - 0.5) * 0.4, f"{v:.1f}", va="center", fontsize=7)
    ax.set(xlabel="SI-5 UAR (%)", ylabel="", xlim=(0, 100), title="Every system predict offers (bold: default candidates)")
    for label in ax.get_yticklabels():
        if table.loc[label.get_text(), "candidate"]:
            label.set_fontweight("bold")
    ax.legend(["without speaker normalisation", "with speaker normalisation"], fontsize=8, ncol=2,
              loc="upper center", bbox_to_anchor=(0.5, -0.1))
    return fig

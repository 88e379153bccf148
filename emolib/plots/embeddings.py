"""Figures of what encoders hold: t-SNE maps, where each pretext lands (speaker against emotion),
the spread over seeds and the probe of encoders side by side (notebooks 04 and 07)."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .base import EMOTION_COLORS, figure_axes


def tsne(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE map (scikit-learn: perplexity 30, PCA start, ``seed``) of standardised features,
    for :func:`embedding_maps`."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    return TSNE(n_components=2, perplexity=30, init="pca", random_state=seed).fit_transform(StandardScaler().fit_transform(X))


def embedding_maps(maps: dict[str, np.ndarray], meta: pd.DataFrame, title: str = ""):
    """2-D maps (e.g. t-SNE) of utterance embeddings, one column per map (``{name: (n, 2)}``),
    coloured by emotion (top row) and by speaker (bottom row)."""
    fig, axes = plt.subplots(2, len(maps), figsize=(4.2 * len(maps), 7.6), layout="constrained", squeeze=False)
    speakers = sorted(meta.speaker.astype(str).unique())
    speaker_colors = dict(zip(speakers, sns.color_palette("tab10", len(speakers))))
    emotions, spk = meta.emotion.astype(str).to_numpy(), meta.speaker.astype(str).to_numpy()
    for j, (name, xy) in enumerate(maps.items()):
        for i, (values, colors) in enumerate(((emotions, EMOTION_COLORS), (spk, speaker_colors))):
            ax = axes[i, j]
            for v, c in colors.items():
                rows = values == v
                ax.scatter(xy[rows, 0], xy[rows, 1], s=7, color=c, label=v, alpha=0.8, lw=0)
            ax.set(xticks=[], yticks=[], title=f"{name}\nby {'emotion' if i == 0 else 'speaker'}")
        if j == len(maps) - 1:
            axes[0, j].legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
            axes[1, j].legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5), title="speaker")
    if title:
        fig.suptitle(title)
    return fig


def pretext_map(table: pd.DataFrame, title: str = ""):
    """Where each pretext variant lands (:func:`emolib.studies.ablation.summary`): left, the 5-NN speaker
    accuracy of its embeddings against their 5-NN emotion UAR; right, against the SI-5 probe UAR
    without (filled circle) and with (open circle) speaker normalisation; a diamond marks the
    probe of an encoder with per-speaker inputs (speaker-normalised already).  Chance dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), layout="constrained")
    colors = dict(zip(table.index, sns.color_palette("tab20", len(table))))
    x = 100 * table.speaker_5nn
    for name, xv in zip(table.index, x):
        r, c = table.loc[name], colors[name]
        axes[0].scatter(xv, 100 * r.emotion_5nn_uar, s=70, color=c, zorder=3)
        axes[1].scatter(xv, 100 * r.uar, s=80 if r.raw_is_speaker_normalised else 70, zorder=3, color=c,
                        marker="D" if r.raw_is_speaker_normalised else "o")
        axes[1].scatter(xv, 100 * r.uar_spknorm, s=70, color="none", edgecolors=c, linewidths=1.6, zorder=3)
    for ax, ylabel in ((axes[0], "5-NN emotion UAR (%)"), (axes[1], "SI-5 probe UAR (%)")):
        ax.axvline(10, color="0.6", ls=":", lw=1)
        ax.axhline(100 / 7, color="0.6", ls=":", lw=1)
        ax.set(xlabel="5-NN speaker accuracy (%, chance 10)", ylabel=ylabel)
        ax.grid(alpha=0.3)
    marks = [matplotlib.lines.Line2D([], [], ls="", marker="o", color="0.3", label="probe, raw"),
             matplotlib.lines.Line2D([], [], ls="", marker="o", mfc="none", color="0.3",
                                     label="probe, speaker-normalised"),
             matplotlib.lines.Line2D([], [], ls="", marker="D", color="0.3", label="probe, per-speaker inputs")]
    axes[1].legend(handles=marks, fontsize=8, loc="lower left")
    handles = [matplotlib.patches.Patch(color=colors[n], label=n) for n in table.index]
    fig.legend(handles=handles, loc="outside right center", fontsize=8, title="variant")
    if title:
        fig.suptitle(title)
    return fig


def seed_spread(table: pd.DataFrame, reference: str = "report"):
    """The pretext ablation over seeds (:func:`emolib.studies.ablation.seed_summary`): per variant, the mean
    probe UAR ± one standard deviation over seeds, without (filled) and with (open) speaker
    normalisation; a diamond marks per-speaker inputs (speaker-normalised already).  The
    ``reference`` variant's two means are drawn as vertical lines."""
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(table) + 1.6), layout="constrained")
    y = np.arange(len(table))[::-1]
    for yi, (name, r) in zip(y, table.iterrows()):
        ax.errorbar(100 * r.uar, yi + 0.12, xerr=100 * r.uar_sd, fmt="D" if r.raw_is_speaker_normalised else "o",
                    color="C0", capsize=3)
        ax.errorbar(100 * r.uar_spknorm, yi - 0.12, xerr=100 * r.uar_spknorm_sd, fmt="o", mfc="white",
                    color="C3", capsize=3)
    if reference in table.index:
        ax.axvline(100 * table.loc[reference, "uar"], color="C0", ls="--", lw=1)
        ax.axvline(100 * table.loc[reference, "uar_spknorm"], color="C3", ls="--", lw=1)
    ax.set_yticks(y, table.index, fontsize=8)
    ax.set(xlabel=f"SI-5 probe UAR (%), mean ± sd over {int(table.seeds.min())} seeds",
           title="Pretext variants over seeds (dashed: the report's recipe)")
    marks = [matplotlib.lines.Line2D([], [], ls="", marker="o", color="C0", label="probe, raw"),
             matplotlib.lines.Line2D([], [], ls="", marker="D", color="C0", label="probe, per-speaker inputs"),
             matplotlib.lines.Line2D([], [], ls="", marker="o", mfc="white", color="C3",
                                     label="probe, speaker-normalised")]
    ax.legend(handles=marks, fontsize=8, loc="center")
    ax.grid(axis="x", alpha=0.3)
    return fig


def side_by_side(curve: pd.DataFrame, targets: dict[str, float] | None = None, ax=None):
    """Probe UAR against the number of encoder folders side by side
    (:func:`emolib.studies.probing.side_by_side_curve`): the trained encoders (solid) and as many random-weight
    ViTs (dashed, the floor), without (blue) and with (red) speaker normalisation; ``targets``
    (``{label: uar}``) as dotted lines."""
    fig, ax = figure_axes(ax, (7, 4.6))
    for kind, ls, marker in (("trained", "-", "o"), ("random", "--", "s")):
        part = curve[curve.encoders == kind]
        for col, color, what in (("uar", "C0", "raw"), ("uar_spknorm", "C3", "speaker-normalised")):
            ax.plot(part.k, 100 * part[col], ls=ls, marker=marker, color=color, ms=4,
                    label=f"{'MoCo v3 encoders' if kind == 'trained' else 'random-weight ViTs'}, {what}")
    for (label, value), color in zip((targets or {}).items(), ("C0", "C3")):
        ax.axhline(100 * value, color=color, ls=":", lw=1)
        ax.annotate(label, (curve.k.max(), 100 * value), xytext=(0, 3), textcoords="offset points",
                    ha="right", fontsize=8, color=color)
    ax.set(xlabel="fold-encoder folders side by side (the first k, in the command's order)",
           ylabel="SI-5 probe UAR (%)", title="One probe on several encoders' class tokens")
    ax.set_xticks(sorted(set(curve.k)))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below the axes: off the lines
    ax.grid(alpha=0.3)
    return fig


def knowledge_map(table: pd.DataFrame, title: str = ""):
    """What each embedding space knows (:func:`emolib.studies.learners.diagnose`): left, the out-of-fold R²
    of each label-free property (rows: spaces; 1 = read back exactly, 0 = no better than the mean); right,
    5-NN speaker accuracy and the probe's emotion UAR raw and speaker-normalised (%, where a row exists)."""
    table = table.drop(columns=["raw is speaker-normalised"], errors="ignore")
    props = [c for c in table.columns if c not in ("speaker 5-NN", "UAR raw", "UAR spk-norm")]
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.55 * len(table) + 2.2), layout="constrained",
                             gridspec_kw={"width_ratios": [len(props), 3]})
    sns.heatmap(table[props].clip(lower=-0.2), ax=axes[0], annot=table[props], fmt=".2f", cmap="viridis",
                vmin=0, vmax=1, cbar_kws={"label": "R² on held-out speakers"})
    axes[0].set(xlabel="", ylabel="", title="label-free properties read back from the embedding (SI-5)")
    axes[0].tick_params(axis="x", rotation=30)
    right = 100 * table[["speaker 5-NN", "UAR raw", "UAR spk-norm"]]
    sns.heatmap(right, ax=axes[1], annot=right, fmt=".0f", cmap="magma", vmin=0, vmax=100, cbar=False,
                yticklabels=False)
    axes[1].set(xlabel="", ylabel="", title="speaker and emotion (%)")
    axes[1].tick_params(axis="x", rotation=30)
    if title:
        fig.suptitle(title)
    return fig


def learner_study(table: pd.DataFrame, targets: dict[str, float] | None = None, title: str = ""):
    """The learners' study (:func:`emolib.studies.learners.study_table`): per row stem, the probe UAR raw and
    speaker-normalised (%), mean over its pretraining seeds with one standard deviation as a whisker (none for a
    single seed), the seeds in the label, and the targets (``{"raw": 0.68, "speaker-normalised": 0.80}``) as
    dashed lines."""
    stems = list(table.index.get_level_values("stem").unique())
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(stems) + 1.5), layout="constrained")
    y = np.arange(len(stems))
    for i, (norm, label, color) in enumerate(((False, "raw", "tab:blue"), (True, "speaker-normalised", "tab:orange"))):
        part = table.xs(norm, level="speaker_norm").reindex(stems)
        ax.barh(y + (i - 0.5) * 0.4, 100 * part.uar_mean, height=0.4, color=color, label=label,
                xerr=100 * part.uar_sd.fillna(0), error_kw={"elinewidth": 1, "capsize": 2})
    for (key, value), color in zip((targets or {}).items(), ("tab:blue", "tab:orange")):
        ax.axvline(100 * value, color=color, ls="--", lw=1, label=f"target, {key} ({100 * value:.0f} %)")
    raw = table.xs(False, level="speaker_norm").reindex(stems)
    ax.set_yticks(y, [s + (f" (seeds {raw.seeds[s]})" if "," in str(raw.seeds[s]) else "")
                      + (" ‡" if raw.rows_speaker_normalised[s] else "") for s in stems])
    ax.invert_yaxis()
    ax.set(xlabel="probe UAR under SI-5 (%)   ‡: the \"raw\" rows use per-speaker inputs", xlim=(30, 100), title=title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.0 / (len(stems) + 3)), ncol=2, fontsize=8)
    return fig

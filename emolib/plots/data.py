"""Figures of the corpus, its log-mels and the pretraining views (notebooks 01–03 and 07)."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..data.emodb import CLASSES
from ..data.features import LogMelConfig
from .base import EMOTION_COLORS, figure_axes


def emotion_distribution(meta: pd.DataFrame, ax=None):
    """Utterances per emotion (the report's Figure 2), with counts on the bars."""
    fig, ax = figure_axes(ax, (6.4, 3.4))
    counts = meta.emotion.value_counts().reindex(CLASSES)
    bars = ax.bar(counts.index, counts.values, color=[EMOTION_COLORS[e] for e in counts.index])
    ax.bar_label(bars, padding=2)
    ax.set(ylabel="utterances", title=f"Emotion distribution ({len(meta)} utterances)")
    ax.margins(y=0.12)
    return fig


def speaker_emotion_heatmap(meta: pd.DataFrame, ax=None):
    """Utterances per speaker and emotion; speakers labelled with gender and age."""
    fig, ax = figure_axes(ax, (7, 4.2))
    table = pd.crosstab(meta.speaker, meta.emotion).reindex(columns=CLASSES, fill_value=0)
    who = meta.drop_duplicates("speaker").set_index("speaker")
    table.index = [f"{s} ({who.gender[s]}, {who.age[s]})" for s in table.index]
    sns.heatmap(table, annot=True, fmt="d", cmap="Blues", cbar_kws={"label": "utterances"}, ax=ax)
    ax.set(xlabel="", ylabel="speaker (gender, age)", title="Utterances per speaker and emotion")
    return fig


def duration_by_emotion(meta: pd.DataFrame, ax=None):
    """Distribution of utterance durations for each emotion."""
    fig, ax = figure_axes(ax, (6.4, 3.4))
    sns.boxplot(data=meta, x="emotion", y="duration", hue="emotion", order=CLASSES,
                palette=EMOTION_COLORS, legend=False, ax=ax)
    ax.set(xlabel="", ylabel="duration (s)", title="Utterance duration by emotion")
    return fig


def waveform_and_logmel(y: np.ndarray, mel: np.ndarray, cfg: LogMelConfig = LogMelConfig(),
                        title: str = "", vmin: float | None = None, vmax: float | None = None):
    """Waveform above its log-mel spectrogram, time in seconds and frequency in Hz."""
    import librosa.display

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.2), sharex=True, layout="constrained",
                                      gridspec_kw={"height_ratios": [1, 2]})
    t = np.arange(len(y)) / cfg.sample_rate
    top.plot(t, y, lw=0.4, color="0.2")
    top.set(ylabel="amplitude", title=title, xlim=(0, len(y) / cfg.sample_rate))
    img = librosa.display.specshow(mel, sr=cfg.sample_rate, hop_length=cfg.hop_length,
                                   x_axis="time", y_axis="mel", fmin=cfg.fmin, fmax=cfg.fmax,
                                   cmap="magma", vmin=vmin, vmax=vmax, ax=bottom)
    bottom.set(xlabel="time (s)", ylabel="frequency (Hz)")
    fig.colorbar(img, ax=[top, bottom], label="log power (mel bands)")
    return fig


def logmel_grid(rows, titles, cfg: LogMelConfig = LogMelConfig(), label: str = "log power (mel bands)",
                suptitle: str | None = None, vmin: float | None = None, vmax: float | None = None,
                panel: tuple[float, float] = (3.3, 2.3)):
    """Log-mel spectrograms in a grid on one colour scale (``rows``: lists of arrays of bands x
    frames, ``titles`` alike), time in seconds and frequency in Hz.  The scale runs from the
    1st percentile to the maximum of all panels unless ``vmin``/``vmax`` are given."""
    import librosa.display

    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    values = np.concatenate([m.ravel() for r in rows for m in r])
    vmin = float(np.percentile(values, 1)) if vmin is None else vmin
    vmax = float(values.max()) if vmax is None else vmax
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(panel[0] * n_cols + 1, panel[1] * n_rows),
                             squeeze=False, layout="constrained")
    for i, (row, names) in enumerate(zip(rows, titles)):
        for j, ax in enumerate(axes[i]):
            if j >= len(row):
                ax.axis("off")
                continue
            img = librosa.display.specshow(row[j], sr=cfg.sample_rate, hop_length=cfg.hop_length,
                                           x_axis="s", y_axis="mel", fmin=cfg.fmin, fmax=cfg.fmax,
                                           cmap="magma", vmin=vmin, vmax=vmax, ax=ax)
            ax.set_title(names[j], fontsize=9)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            ax.set(xlabel="time (s)" if i == n_rows - 1 else "", ylabel="frequency (Hz)" if j == 0 else "")
    fig.colorbar(img, ax=axes, label=label, shrink=0.9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def view_agreement(similarity: pd.DataFrame, order: list[str] | None = None, ax=None):
    """Cosine similarity of positive pairs (two views of one utterance) and negative pairs
    (views of different utterances) for each augmentation recipe.  ``similarity``: columns
    recipe, pair, similarity."""
    fig, ax = figure_axes(ax, (7.5, 3.8))
    sns.violinplot(data=similarity, x="recipe", y="similarity", hue="pair", split=True, inner="quart",
                   order=order, hue_order=["positive", "negative"],
                   cut=0, density_norm="width", palette={"positive": "tab:green", "negative": "0.7"}, ax=ax)
    ax.set(xlabel="augmentation recipe", ylabel="cosine similarity of mean spectra",
           title="Two views of one utterance vs views of different utterances")
    ax.legend(title="", fontsize=8, loc="lower left")
    return fig


def source_filter(mel: np.ndarray, parts: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "",
                  cfg: LogMelConfig = LogMelConfig(), bands: int = 32):
    """What the formant and pitch warps change: ``parts`` maps a name (the original first) to the
    warped log-mel ``(F, T)`` and its envelope.  Top: the log-mels on one colour scale; bottom: one
    voiced frame (the loudest in the low bands) across the lowest ``bands`` mel bands, each version's
    spectrum solid and its envelope dashed, so moved formants and moved harmonics can be told apart."""
    import librosa.display

    frame = int(mel[:24].mean(0).argmax())
    hz = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1][:bands]
    fig = plt.figure(figsize=(3.3 * len(parts) + 1, 5.2), layout="constrained")
    grid = fig.add_gridspec(2, len(parts))
    low = min(np.percentile(m, 1) for m, _ in parts.values())
    high = max(m.max() for m, _ in parts.values())
    line = fig.add_subplot(grid[1, :])
    for j, (name, (m, env)) in enumerate(parts.items()):
        ax = fig.add_subplot(grid[0, j])
        librosa.display.specshow(m, sr=cfg.sample_rate, hop_length=cfg.hop_length, x_axis="s", y_axis="mel",
                                 fmin=cfg.fmin, fmax=cfg.fmax, cmap="magma", vmin=low, vmax=high, ax=ax)
        ax.axvline(frame * cfg.hop_length / cfg.sample_rate, color="w", lw=0.8, ls=":")
        ax.set_title(name, fontsize=9)
        ax.set(xlabel="time (s)", ylabel="frequency (Hz)" if j == 0 else "")
        colour = f"C{j}" if j else "k"
        line.plot(hz, m[:bands, frame], color=colour, lw=1.2, label=name)
        line.plot(hz, env[:bands, frame], color=colour, lw=1, ls="--")
    line.set(xscale="log", xlabel="frequency (Hz)", ylabel="log power",
             title=f"frame at {frame * cfg.hop_length / cfg.sample_rate:.2f} s (dotted above): spectrum, envelope dashed")
    line.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def batch_composition(draws: dict[str, list[np.ndarray]], speakers: list[str], n: int = 12):
    """One epoch's first ``n`` batches per batching mode (``draws``: mode -> one array of speaker
    labels per batch), as stacked bars of utterances per speaker."""
    colors = dict(zip(speakers, sns.color_palette("tab10", len(speakers))))
    fig, axes = plt.subplots(1, len(draws), figsize=(4.3 * len(draws), 3.4), sharey=True, layout="constrained")
    for ax, (mode, batches) in zip(np.atleast_1d(axes), draws.items()):
        for j, batch in enumerate(batches[:n]):
            bottom = 0
            for s in speakers:
                count = int((batch == s).sum())
                if count:
                    ax.bar(j, count, bottom=bottom, color=colors[s], width=0.8)
                    bottom += count
        ax.set(title=f"batch by {mode}: {len(batches)} batches an epoch", xlabel="batch", ylabel="utterances")
    handles = [matplotlib.patches.Patch(color=colors[s], label=f"speaker {s}") for s in speakers]
    fig.legend(handles=handles, loc="outside right center", fontsize=8)
    return fig


def speaker_spectra(mels: list[np.ndarray], normed: list[np.ndarray], meta: pd.DataFrame,
                    cfg: LogMelConfig = LogMelConfig()):
    """Each speaker's mean log-mel spectrum (mean over all its frames) before and after per-speaker
    standardisation; women solid, men dashed."""
    import librosa

    freqs = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")
    speakers = meta.speaker.astype(str).to_numpy()
    colors = dict(zip(sorted(set(speakers)), sns.color_palette("tab10", len(set(speakers)))))
    for ax, arrays, label in ((axes[0], mels, "log power"), (axes[1], normed, "standardised per speaker")):
        for s in sorted(set(speakers)):
            frames = np.concatenate([m for m, sp in zip(arrays, speakers) if sp == s], axis=1)
            gender = meta.gender[speakers == s].iloc[0]
            ax.plot(freqs, frames.mean(1), color=colors[s], ls="-" if gender == "f" else "--", lw=1.3,
                    label=f"{s} ({gender})")
        ax.set(xscale="log", xlabel="frequency (Hz)", ylabel=f"mean {label}")
        ax.grid(alpha=0.3)
    axes[1].set_ylim(-1, 1)  # in standard deviations: the means are zero up to rounding
    axes[0].set_title("each speaker's mean spectrum: a voice print")
    axes[1].set_title("after per-speaker standardisation: gone")
    axes[1].legend(fontsize=7, ncol=2)
    return fig

"""Figures used by the notebooks.  Each function draws on a given (or new) axes and returns
the figure; :func:`save` writes it to ``figures/``."""
from __future__ import annotations

import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .config import figures_dir
from .emodb import CLASSES
from .features import LogMelConfig

EMOTION_COLORS = dict(zip(CLASSES, sns.color_palette("colorblind", len(CLASSES))))


def _axes(ax, figsize):
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


def emotion_distribution(meta: pd.DataFrame, ax=None):
    """Utterances per emotion (the report's Figure 2), with counts on the bars."""
    fig, ax = _axes(ax, (6.4, 3.4))
    counts = meta.emotion.value_counts().reindex(CLASSES)
    bars = ax.bar(counts.index, counts.values, color=[EMOTION_COLORS[e] for e in counts.index])
    ax.bar_label(bars, padding=2)
    ax.set(ylabel="utterances", title=f"Emotion distribution ({len(meta)} utterances)")
    ax.margins(y=0.12)
    return fig


def speaker_emotion_heatmap(meta: pd.DataFrame, ax=None):
    """Utterances per speaker and emotion; speakers labelled with gender and age."""
    fig, ax = _axes(ax, (7, 4.2))
    table = pd.crosstab(meta.speaker, meta.emotion).reindex(columns=CLASSES, fill_value=0)
    who = meta.drop_duplicates("speaker").set_index("speaker")
    table.index = [f"{s} ({who.gender[s]}, {who.age[s]})" for s in table.index]
    sns.heatmap(table, annot=True, fmt="d", cmap="Blues", cbar_kws={"label": "utterances"}, ax=ax)
    ax.set(xlabel="", ylabel="speaker (gender, age)", title="Utterances per speaker and emotion")
    return fig


def duration_by_emotion(meta: pd.DataFrame, ax=None):
    """Distribution of utterance durations for each emotion."""
    fig, ax = _axes(ax, (6.4, 3.4))
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


def segment_study(study: pd.DataFrame, report: dict[str, float] | None = None, ax=None):
    """Accuracy over segment length under both protocols (the leakage made visible).

    ``study``: one row per (segment, protocol) with columns segment, protocol, uar, wa
    (per utterance for SI-5) and segment_wa (accuracy of single-segment decisions); a protocol
    other than the leaky split and plain ``SI-5`` is drawn by its utterance WA and UAR, and
    up to three leaky protocols (e.g. two training budgets, overlapping segments) by their
    segment accuracy; ``report``: the report's Table 3 accuracies by segment label, drawn for
    comparison.  The legend sits below the axes in two columns, where it hides no curve and
    leaves the axes the figure's full width."""
    fig, ax = _axes(ax, (9, 6.4))
    order = list(dict.fromkeys(study.segment))
    x = np.arange(len(order))
    leaky_styles = iter([("o-", "tab:red"), ("o--", "darkred"), ("o-.", "salmon")])
    for protocol, rows in study.groupby("protocol", sort=False):
        rows = rows.set_index("segment").reindex(order)
        if "leaky" in protocol:  # e.g. at the study's budget, and with the report's kind of training
            style, color = next(leaky_styles)
            ax.plot(x, rows.segment_wa, style, color=color, label=f"{protocol}: segment accuracy")
        elif protocol == "SI-5":
            ax.plot(x, rows.segment_wa, "s:", color="tab:blue", label=f"{protocol}: segment accuracy")
            ax.plot(x, rows.wa, "s-", color="tab:blue", label=f"{protocol}: utterance WA")
            ax.plot(x, rows.uar, "s--", color="tab:cyan", label=f"{protocol}: utterance UAR")
        else:  # another speaker-independent variant (e.g. speaker-normalised): its utterance scores
            ax.plot(x, rows.wa, "D-", color="tab:green", label=f"{protocol}: utterance WA")
            ax.plot(x, rows.uar, "D--", color="tab:olive", label=f"{protocol}: utterance UAR")
    if report:
        ax.plot(x, [report.get(s, np.nan) for s in order], ls=":", marker="x", color="0.3",
                label="report, Table 3 (leaky, quoted)")
    ax.axhline(1 / len(CLASSES), color="0.6", lw=0.8)
    ax.text(x[-1], 1 / len(CLASSES) + 0.01, "chance", ha="right", va="bottom", fontsize=8, color="0.4")
    ax.set(xticks=x, xticklabels=order, xlabel="segment length", ylabel="accuracy / UAR",
           ylim=(0, 1), title="Conv1D: random segment split vs speaker-independent SI-5")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, [textwrap.fill(label, 52) for label in labels], fontsize=8, ncol=2,
              loc="upper center", bbox_to_anchor=(0.5, -0.13), borderaxespad=0)
    return fig


def loss_curves(history: pd.DataFrame, title: str, ax=None):
    """Training loss and held-out-speaker loss per epoch (the report's Figure 6); the
    held-out loss is a monitor only, never used for any training decision."""
    fig, ax = _axes(ax, (6.4, 3.6))
    ax.plot(history.epoch, history.train_loss, marker=".", label="training speakers")
    ax.plot(history.epoch, history.monitor_loss, marker=".", label="held-out speakers (monitor)")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title=title)
    ax.legend()
    return fig


def confusion_heatmap(cm: pd.DataFrame, title: str, ax=None, colorbar: bool = True):
    """Row-normalised confusion matrix (rows: true emotion), in percent."""
    fig, ax = _axes(ax, (6, 5))
    sns.heatmap(100 * cm, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100, square=True, cbar=colorbar,
                cbar_kws={"label": "% of true class"} if colorbar else None, ax=ax)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return fig


def recall_comparison(recalls: pd.DataFrame, ax=None):
    """Per-class recall of several methods side by side: columns are methods, values in %."""
    fig, ax = _axes(ax, (7.5, 3.6))
    recalls.reindex(CLASSES).plot.bar(ax=ax, rot=0)
    ax.set(ylabel="recall (%)", ylim=(0, 100), title="Per-class recall")
    ax.legend(fontsize=8)
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
    fig, ax = _axes(ax, (7.5, 3.8))
    sns.violinplot(data=similarity, x="recipe", y="similarity", hue="pair", split=True, inner="quart",
                   order=order, hue_order=["positive", "negative"],
                   cut=0, density_norm="width", palette={"positive": "tab:green", "negative": "0.7"}, ax=ax)
    ax.set(xlabel="augmentation recipe", ylabel="cosine similarity of mean spectra",
           title="Two views of one utterance vs views of different utterances")
    ax.legend(title="", fontsize=8, loc="lower left")
    return fig


def pretraining_curves(histories: dict[int, pd.DataFrame], title: str = "MoCo v3 pretraining per SI-5 fold"):
    """Loss, k-NN monitor (UAR on the fold's held-out speakers) and the schedules (momentum,
    learning rate) over epochs, one line per fold."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for fold, h in histories.items():
        axes[0].plot(h.epoch, h.loss, label=f"fold {fold}")
        if "knn_uar" in h:
            k = h.dropna(subset=["knn_uar"])
            axes[1].plot(k.epoch, 100 * k.knn_uar, marker="o", ms=3, label=f"fold {fold}")
    first = next(iter(histories.values()))
    axes[2].plot(first.epoch, first.momentum, color="tab:purple", label="momentum m")
    lr_ax = axes[2].twinx()
    lr_ax.plot(first.epoch, first.lr, color="tab:orange", ls="--", label="learning rate")
    axes[0].set(xlabel="epoch", ylabel="symmetric InfoNCE loss", title="loss (training speakers)")
    axes[1].axhline(100 / len(CLASSES), color="0.6", lw=0.8)
    axes[1].set(xlabel="epoch", ylabel="k-NN UAR (%)", title="k-NN monitor (held-out speakers)")
    axes[2].set(xlabel="epoch", ylabel="momentum", title="schedules (per epoch's last step)")
    lr_ax.set_ylabel("learning rate")
    axes[0].legend(fontsize=8)
    h1, l1 = axes[2].get_legend_handles_labels()
    h2, l2 = lr_ax.get_legend_handles_labels()
    axes[2].legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    fig.suptitle(title)
    return fig


def probe_vs_pretraining(by_epoch: pd.DataFrame, by_batch: pd.DataFrame | None = None,
                         report: dict | None = None, note: str = ""):
    """The report's Figure 5 done under SI-5: linear-probe UAR against pretraining epochs
    (``by_epoch``: columns epoch, fold, uar; the mean over folds drawn thick) and against the
    pretraining batch size (``by_batch``: columns batch_size, uar[, fold]).  ``report``:
    ``{"epochs": …, "batch_size": …, "acc": …}`` marks the report's own result (accuracy on
    a leaky random split: a different protocol, drawn as such)."""
    fig, axes = plt.subplots(1, 2 if by_batch is not None else 1, figsize=(11 if by_batch is not None else 6, 3.8),
                             layout="constrained", squeeze=False)
    ax = axes[0, 0]
    for fold, g in by_epoch.groupby("fold"):
        ax.plot(g.epoch, 100 * g.uar, color="0.7", lw=1, marker=".", label="per fold" if fold == by_epoch.fold.min() else None)
    mean = by_epoch.groupby("epoch").uar.mean()
    ax.plot(mean.index, 100 * mean.values, color="C0", lw=2.5, marker="o", label="mean over SI-5 folds")
    ax.axhline(100 / len(CLASSES), color="0.5", ls=":", lw=1)
    ax.set(xlabel="pretraining epochs (0 = random initialisation)", ylabel="linear-probe UAR (%)",
           title="Probe UAR vs pretraining epochs")
    if report:
        ax.scatter([report["epochs"]], [100 * report["acc"]], marker="*", s=160, color="C3", zorder=5,
                   label=f"report: {100 * report['acc']:.1f} % accuracy,\nleaky random split")
    ax.legend(fontsize=8, loc="lower right")
    if by_batch is not None:
        ax = axes[0, 1]
        mean = by_batch.groupby("batch_size").uar.mean()
        ax.plot(mean.index, 100 * mean.values, color="C1", lw=2.5, marker="o", label="SI-5 fold 0")
        ax.set_xscale("log", base=2)
        ax.set_xticks(mean.index, [str(b) for b in mean.index])
        ax.axhline(100 / len(CLASSES), color="0.5", ls=":", lw=1)
        ax.set(xlabel="pretraining batch size", ylabel="linear-probe UAR (%)", title="Probe UAR vs batch size")
        if report:
            ax.scatter([report["batch_size"]], [100 * report["acc"]], marker="*", s=160, color="C3", zorder=5,
                       label="report (leaky random split)")
        ax.legend(fontsize=8, loc="lower right")
    if note:
        fig.suptitle(note, fontsize=9)
    return fig


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
    """Where each pretext variant lands (:func:`emolib.ablation.summary`): left, the 5-NN speaker
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


def ablation_curves(history: pd.DataFrame, variants: list[str] | None = None):
    """Pretraining of each pretext variant (mean of the folds): contrastive loss, the k-NN
    monitor on the held-out speakers, and the speaker adversary's accuracy on the training
    speakers where there is one (chance 1/8)."""
    variants = variants or list(dict.fromkeys(history.variant))
    colors = dict(zip(variants, sns.color_palette("tab20", len(variants))))
    adversary = "adversary_acc" in history and history.adversary_acc.notna().any()
    fig, axes = plt.subplots(1, 3 if adversary else 2, figsize=(14 if adversary else 9.5, 3.8), layout="constrained")
    for name in variants:
        h = history[history.variant == name]
        mean = h.groupby("epoch").mean(numeric_only=True)
        axes[0].plot(mean.index, mean.loss, color=colors[name], lw=1.2, label=name)
        knn = h.dropna(subset=["knn_uar"]).groupby("epoch").knn_uar.mean()
        axes[1].plot(knn.index, 100 * knn.values, color=colors[name], lw=1.2, marker="o", ms=2.5)
        if adversary and h.adversary_acc.notna().any():
            axes[2].plot(mean.index, 100 * mean.adversary_acc, color=colors[name], lw=1.5, label=name)
    axes[0].set(xlabel="epoch", ylabel="contrastive loss", title="loss (mean of folds)")
    axes[1].set(xlabel="epoch", ylabel="k-NN UAR (%)", title="k-NN monitor, held-out speakers")
    axes[0].legend(fontsize=7, ncol=2)
    if adversary:  # only where some variant has a speaker head
        axes[2].axhline(100 / 8, color="0.6", ls=":", lw=1)
        axes[2].set(xlabel="epoch", ylabel="accuracy (%)", title="speaker adversary on training speakers")
        axes[2].legend(fontsize=7)
    return fig


def protocol_gap(table: pd.DataFrame, board: pd.DataFrame | None = None):
    """SI-5 against EmoBox's speaker-dependent folds (:func:`emolib.emobox.comparison`): one line per
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


def seed_spread(table: pd.DataFrame, reference: str = "report"):
    """The pretext ablation over seeds (:func:`emolib.ablation.seed_summary`): per variant, the mean
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
    (:func:`emolib.studies.side_by_side_curve`): the trained encoders (solid) and as many random-weight
    ViTs (dashed, the floor), without (blue) and with (red) speaker normalisation; ``targets``
    (``{label: uar}``) as dotted lines."""
    fig, ax = _axes(ax, (7, 4.6))
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


def prediction(mel: np.ndarray, probabilities: dict[str, float], windows=(), title: str = "",
               cfg: LogMelConfig = LogMelConfig()):
    """What ``predict`` says about one recording: its log-mel, the seven class probabilities as bars
    and, when it was scored in windows (``windows``: objects with ``start``, ``end`` and
    ``probabilities``, :class:`emolib.predict.Prediction`), each emotion's probability over time."""
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
    """SI-5 UAR of each model without and with speaker normalisation (``emolib.final.comparison``),
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

"""Figures of training: loss and pretraining curves, the probe against pretraining, the segment
study and the ablation's k-NN curves (notebooks 03–05)."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..data.emodb import CLASSES
from .base import figure_axes


def segment_study(study: pd.DataFrame, report: dict[str, float] | None = None, ax=None):
    """Accuracy over segment length under both protocols (the leakage made visible).

    ``study``: one row per (segment, protocol) with columns segment, protocol, uar, wa
    (per utterance for SI-5) and segment_wa (accuracy of single-segment decisions); a protocol
    other than the leaky split and plain ``SI-5`` is drawn by its utterance WA and UAR, and
    up to three leaky protocols (e.g. two training budgets, overlapping segments) by their
    segment accuracy; ``report``: the report's Table 3 accuracies by segment label, drawn for
    comparison.  The legend sits below the axes in two columns, where it hides no curve and
    leaves the axes the figure's full width."""
    fig, ax = figure_axes(ax, (9, 6.4))
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
    fig, ax = figure_axes(ax, (6.4, 3.6))
    ax.plot(history.epoch, history.train_loss, marker=".", label="training speakers")
    ax.plot(history.epoch, history.monitor_loss, marker=".", label="held-out speakers (monitor)")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title=title)
    ax.legend()
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

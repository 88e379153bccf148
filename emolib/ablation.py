"""The pretext ablation: which way of denying MoCo the speaker shortcut helps the emotion probe?

Each variant is the profile's pretraining budget (:data:`emolib.settings.PRETRAIN`: in ``full``,
the report's ViT-Tiny, views and epochs) with the pretext options of :data:`VARIANTS` changed
(:mod:`emolib.pretext`, :mod:`emolib.views`).  For each variant, :func:`run_variant`

1. pretrains the five SI-5 fold encoders (each on its fold's 8 training speakers; resumable),
2. probes them with the same logistic-regression probe as notebook 04 (class token), without and
   with speaker normalisation: results rows ``ssl_<variant>`` and ``ssl_<variant>_spknorm``,
3. measures what each fold encoder's embedding space holds (:func:`emolib.probes.neighbour_scores`:
   5-NN speaker accuracy, 5-NN emotion UAR, over all 535 utterances) and stores it in both rows.

``python -m emolib ablation`` runs it from the command line (one variant per process on a GPU
box, say); :func:`summary` reads the rows back into one table, :func:`emolib.plots.pretext_map`
draws where each variant lands.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import config, pretext
from .errors import EmolibError
from .encoders import N_FOLDS, fold_embeddings
from .probes import neighbour_scores, probe_checkpoints
from .pretrain import pretrain_folds, read_history
from .pretrain_config import PretrainConfig, profile_config

#: Variant name -> the pretext options it changes from the report's recipe (:data:`emolib.pretext.VARIANTS`).
VARIANTS = pretext.VARIANTS


def check_variants(names: Sequence[str]) -> None:
    """An error naming every unknown variant (before any work)."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise EmolibError(f"unknown pretext variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")


def variant_config(name: str, base: PretrainConfig | None = None, profile: str | None = None) -> PretrainConfig:
    """The pretraining settings of variant ``name``: ``base``'s budget (default: the profile's) with the
    recipe's pretext options (:data:`emolib.pretext.DEFAULTS`, whatever ``base`` had) and the variant's
    changes, so a variant means the same whichever encoder is the default."""
    check_variants([name])
    base = base or profile_config(profile)
    return replace(base, **{**pretext.DEFAULTS, **VARIANTS[name]})


def default_out(corpus: str | None = None, profile: str | None = None) -> Path:
    """``checkpoints/ablation`` for the real run, per corpus and profile otherwise (git-ignored)."""
    return config.run_dir(config.REPO / "checkpoints", corpus, profile) / "ablation"


def run_variant(meta: pd.DataFrame, name: str, out: str | os.PathLike | None = None,
                base: PretrainConfig | None = None, device: str | None = None, profile: str | None = None,
                corpus: str | None = None, progress: bool = True, log=print, tag: str = "") -> list[dict]:
    """Pretrain variant ``name`` on all five folds into ``<out>/<name>/fold<k>`` (resumed where
    a checkpoint exists), probe it and write its two results rows (returned): ``ssl_<name>``
    and ``ssl_<name>_spknorm``.  ``tag``: for a budget other than the profile's, rows
    ``ssl_<name>_<tag>`` and encoders in ``<out>/<name>_<tag>``, never mixed with the profile's."""
    cfg = variant_config(name, base, profile)
    run = f"{name}_{tag}" if tag else name
    folder = Path(out or default_out(corpus, profile)) / run
    def report(k, last):
        if log:
            log(f"{name}, fold {k}: {last['epoch']} epochs, loss {last['loss']:.3f}, "
                f"k-NN UAR {last.get('knn_uar', float('nan')):.3f}, {last['wall_s']:.0f} s")

    walls = [last["wall_s"] for last in pretrain_folds(meta, cfg, folder, device, progress, on_fold=report)]
    emb = fold_embeddings(meta, folder, progress=False)
    scores = [neighbour_scores(emb[k], meta) for k in range(N_FOLDS)]
    neighbours = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
    neighbours["per_fold"] = scores
    return probe_checkpoints(meta, folder, f"ssl_{run}", profile=profile, corpus=corpus, progress=False,
                             extra={"variant": name, "neighbours": neighbours, "pretrain_s": float(sum(walls))})


def run(meta: pd.DataFrame, names: Sequence[str] = tuple(VARIANTS), out: str | os.PathLike | None = None,
        base: PretrainConfig | None = None, device: str | None = None, profile: str | None = None,
        corpus: str | None = None, progress: bool = True, log=print, tag: str = "") -> pd.DataFrame:
    """:func:`run_variant` for each of ``names`` (all by default, ``tag`` as there); returns
    :func:`summary`."""
    check_variants(names)
    for name in names:
        run_variant(meta, name, out, base, device, profile, corpus, progress, log, tag)
    return summary(names, profile=profile, corpus=corpus, tag=tag)


def summary(names: Sequence[str] | None = None, folder: str | os.PathLike | None = None,
            profile: str | None = None, corpus: str | None = None, tag: str = "") -> pd.DataFrame:
    """One line per variant from its committed rows: probe UAR without and with speaker
    normalisation, 5-NN speaker accuracy and emotion UAR (mean of the fold encoders), the
    options, where the encoders were pretrained, and the pretraining seconds of all five folds."""
    folder = Path(folder) if folder else config.run_dir(config.RESULTS, corpus, profile)
    suffix = f"_{tag}" if tag else ""
    names = list(names) if names is not None else [n for n in VARIANTS if (folder / f"ssl_{n}{suffix}.json").is_file()]
    lines = []
    for name in names:
        try:
            raw, norm = (json.loads((folder / f"ssl_{name}{suffix}{s}.json").read_text()) for s in ("", "_spknorm"))
        except FileNotFoundError:
            raise EmolibError(f"no rows ssl_{name}{suffix} in {config.repo_relative(folder)}; run python -m "
                              f"emolib ablation --variants {name}") from None
        lines.append({"variant": name, "options": VARIANTS.get(name, {}), "uar": raw["uar"],
                      "uar_spknorm": norm["uar"], "raw_is_speaker_normalised": raw["speaker_norm"],
                      "speaker_5nn": raw["neighbours"]["speaker_acc"],
                      "emotion_5nn_uar": raw["neighbours"]["emotion_uar"],
                      "encoder": "{arch}/{depth}, {epochs} epochs".format(**raw["encoder"]),
                      "device": raw["encoder"]["device"], "pretrain_s": raw.get("pretrain_s")})
    return pd.DataFrame(lines).set_index("variant")


def seed_tag(seed: int, tag: str = "") -> str:
    """The tag of a seed's rows at a budget tagged ``tag``: ``tag`` itself for seed 0 (the budget's
    own rows), ``<tag>_seed<s>`` (``seed<s>`` untagged) for another seed ``s``, as ``python -m emolib
    ablation --seed s --tag …`` writes them."""
    return tag if seed == 0 else f"{tag}_seed{seed}" if tag else f"seed{seed}"


def seeds_found(folder: str | os.PathLike | None = None, profile: str | None = None,
                corpus: str | None = None, tag: str = "") -> list[int]:
    """The seeds with rows in ``folder`` at the budget tagged ``tag``: 0 (the budget's own rows) and
    every ``s`` of rows tagged :func:`seed_tag` (``python -m emolib ablation --seed s --tag seed<s>``)."""
    folder = Path(folder) if folder else config.run_dir(config.RESULTS, corpus, profile)
    # a variant's name, then exactly the tag: ssl_warp_e300_cpu_seed1 is not a seed of the budget tagged cpu
    variant = "|".join(map(re.escape, sorted(VARIANTS, key=len, reverse=True)))
    pattern = rf"ssl_(?:{variant})_{re.escape(tag) + '_' if tag else ''}seed(\d+)"
    found = {int(m.group(1)) for p in folder.glob("ssl_*_seed*.json") if (m := re.fullmatch(pattern, p.stem))}
    return [0, *sorted(found)]


def seed_summary(names: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                 folder: str | os.PathLike | None = None, profile: str | None = None,
                 corpus: str | None = None, tag: str = "") -> pd.DataFrame:
    """How much of the ablation is seed noise: per variant, the mean and the standard deviation
    (ddof 1) over ``seeds`` (default: every seed with rows, :func:`seeds_found`) of the probe UAR
    without and with speaker normalisation, and the mean 5-NN speaker accuracy and emotion UAR, at
    the budget tagged ``tag`` (default: the profile's).  Only variants with rows for every seed are kept."""
    folder = Path(folder) if folder else config.run_dir(config.RESULTS, corpus, profile)
    seeds = list(seeds) if seeds is not None else seeds_found(folder, tag=tag)
    tags = {s: seed_tag(s, tag) for s in seeds}
    names = [n for n in (names or VARIANTS)
             if all((folder / f"ssl_{n}{'_' + t if t else ''}.json").is_file() for t in tags.values())]
    if not names:
        raise EmolibError(f"no variant has rows for seeds {seeds}{f' tagged {tag}' if tag else ''} in "
                          f"{config.repo_relative(folder)}; run python -m emolib ablation --seed S --tag "
                          f"{tag + '_' if tag else ''}seedS")
    table = pd.concat([summary(names, folder, tag=t).assign(seed=s) for s, t in tags.items()])
    agg = table.groupby(level="variant", sort=False).agg(
        seeds=("seed", "size"), uar=("uar", "mean"), uar_sd=("uar", "std"), uar_spknorm=("uar_spknorm", "mean"),
        uar_spknorm_sd=("uar_spknorm", "std"), speaker_5nn=("speaker_5nn", "mean"),
        emotion_5nn_uar=("emotion_5nn_uar", "mean"), raw_is_speaker_normalised=("raw_is_speaker_normalised", "first"))
    return agg.sort_values("uar", ascending=False)


def seed_markdown(table: pd.DataFrame) -> str:
    """:func:`seed_summary` as a Markdown table (mean ± sd over seeds, in %)."""
    head = ["variant", "seeds", "probe UAR", "probe UAR, speaker-normalised", "5-NN speaker acc.", "5-NN emotion UAR"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, r in table.iterrows():
        raw = f"{100 * r.uar:.1f} ± {100 * r.uar_sd:.1f}" + (" ‡" if r.raw_is_speaker_normalised else "")
        lines.append(f"| {name} | {r.seeds} | {raw} | {100 * r.uar_spknorm:.1f} ± {100 * r.uar_spknorm_sd:.1f} | "
                     f"{100 * r.speaker_5nn:.1f} | {100 * r.emotion_5nn_uar:.1f} |")
    return "\n".join(lines)


def histories(out: str | os.PathLike | None = None, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The pretraining histories of ``<out>/<variant>/fold<k>`` in one table (columns variant,
    fold, then those of ``history.jsonl``: epoch, loss, k-NN monitor, the adversary's speaker
    accuracy where there is one, wall seconds)."""
    out = Path(out or default_out())
    names = list(names) if names is not None else [n for n in VARIANTS if (out / n).is_dir()]
    parts = [read_history(out / name, k).assign(variant=name, fold=k) for name in names for k in range(N_FOLDS)]
    if not parts:
        raise EmolibError(f"no pretraining histories under {out}; run python -m emolib ablation first")
    table = pd.concat(parts, ignore_index=True)
    return table[["variant", "fold", *[c for c in table.columns if c not in ("variant", "fold")]]]


def markdown(table: pd.DataFrame) -> str:
    """:func:`summary` as a Markdown table (for the README), UARs and accuracies in %."""
    head = ["variant", "options", "encoder", "probe UAR", "probe UAR, speaker-normalised", "5-NN speaker acc.",
            "5-NN emotion UAR", "pretrained on"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in table.iterrows():
        options = ", ".join(f"{k}={v}" for k, v in r.options.items()) or "(the report's recipe)"
        raw = f"{100 * r.uar:.1f} %" + (" ‡" if r.raw_is_speaker_normalised else "")
        lines.append(f"| {name} | {options} | {r.encoder} | {raw} | {100 * r.uar_spknorm:.1f} % | "
                     f"{100 * r.speaker_5nn:.1f} % | {100 * r.emotion_5nn_uar:.1f} % | {r.device} |")
    return "\n".join(lines)

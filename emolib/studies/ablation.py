"""The pretext ablation (which way of denying MoCo the speaker shortcut helps the emotion probe?) and the
learners' study (which encoder, objective or signal-derived targets learns emotion from 535 utterances?).

Each variant is the profile's pretraining budget (:data:`emolib.core.budgets.PRETRAIN`: in ``full``,
the report's ViT-Tiny, views and epochs) with the pretext options of :data:`VARIANTS` changed
(:mod:`emolib.ssl.shortcut`, :mod:`emolib.augmentation.views`).  For each variant, :func:`run_variant`

1. pretrains the five SI-5 fold encoders (each on its fold's 8 training speakers; resumable),
2. probes them with the same logistic-regression probe as notebook 04 (class token), without and
   with speaker normalisation: results rows ``ssl_<variant>`` and ``ssl_<variant>_spknorm``,
3. measures what each fold encoder's embedding space holds (:func:`emolib.evaluation.probes.neighbour_scores`:
   5-NN speaker accuracy, 5-NN emotion UAR, over all 535 utterances) and stores it in both rows.

A learner (:data:`emolib.ssl.shortcut.LEARNERS`: a CNN encoder, the masked objective, regression of
signal-derived targets, with the recipe's pretext options) is a variant like the others, and is also probed
with the statistics read-out (mean, spread and maximum over half-overlapping windows): rows
``ssl_<learner>_stats[_spknorm]``.  :func:`learner_table` sets the learners' seeds side by side.

``python -m emolib ablation`` runs it from the command line (one variant per process on a GPU
box, say); :func:`summary` reads the rows back into one table, :func:`emolib.plots.pretext_map`
draws where each variant lands.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import env
from ..core.errors import EmolibError
from ..evaluation.probes import neighbour_scores, probe_checkpoints
from ..evaluation.runs import RunName, ssl_stem
from ..ssl import pretrain_config, shortcut
from ..ssl.encoders import N_FOLDS, describe_learner, fold_embeddings
from ..ssl.pretrain import pretrain_folds, read_history
from ..ssl.pretrain_config import PretrainConfig

#: Variant name -> what it changes from the report's recipe: the pretext variants
#: (:data:`emolib.ssl.shortcut.VARIANTS`), then the learners (:data:`emolib.ssl.shortcut.LEARNERS`).
VARIANTS = {**shortcut.VARIANTS, **shortcut.LEARNERS}
#: The statistics read-out's tag (rows ``ssl_<learner>[_<budget tag>]_stats``).
STATS = "stats"


def check_variants(names: Sequence[str]) -> None:
    """An error naming every unknown variant (before any work)."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise EmolibError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")


def variant_config(name: str, base: PretrainConfig | None = None, profile: str | None = None) -> PretrainConfig:
    """:func:`emolib.ssl.pretrain_config.variant_config` (the registry's learner systems build their final encoders
    with it too)."""
    check_variants([name])
    return pretrain_config.variant_config(name, base, profile)


def default_out(corpus: str | None = None, profile: str | None = None) -> Path:
    """``checkpoints/ablation`` for the real run, per corpus and profile otherwise (git-ignored;
    :func:`emolib.ssl.pretrain_config.ablation_out`)."""
    return pretrain_config.ablation_out(corpus, profile)


def run_name(name: str, tag: str = "", seed: int = 0, stats: bool = False) -> RunName:
    """The rows of variant ``name`` at the budget tagged ``tag`` (none: the profile's) and ``seed``:
    ``ssl_<name>[_<tag>][_seed<S>]`` (:mod:`emolib.evaluation.runs`); ``stats``: its statistics read-out's,
    ``ssl_<name>[_<tag>]_stats[_seed<S>]``.  A tag may not hold the seed, nor ``stats``, nor read back as another
    variant's name (``--variants cnn --tag sig`` would be ``ssl_cnn_sig``, the rows of learner ``cnn_sig``)."""
    if STATS in tag.split("_"):
        raise EmolibError(f"--tag {tag}: '{STATS}' names the statistics read-out's rows; choose another tag")
    try:
        run = RunName(ssl_stem(name), "_".join(t for t in (tag, STATS if stats else "") if t), seed)
    except ValueError:
        raise EmolibError(f"--tag {tag}: name the budget only; the seed has its own flag (--seed)") from None
    if RunName.parse(str(run)) != run:
        raise EmolibError(f"--tag {tag}: {run} would read as another variant's rows; choose another tag")
    return run


def run_variant(meta: pd.DataFrame, name: str, out: str | os.PathLike | None = None,
                base: PretrainConfig | None = None, device: str | None = None, profile: str | None = None,
                corpus: str | None = None, progress: bool = True, log=print, tag: str = "") -> list[dict]:
    """Pretrain variant ``name`` on all five folds into ``<out>/<name>/fold<k>`` (resumed where
    a checkpoint exists), probe it and write its two results rows (returned): ``ssl_<name>``
    and ``ssl_<name>_spknorm``; a learner also its statistics read-out's ``ssl_<name>_stats[_spknorm]``.  ``tag`` (a budget other than the profile's) and the seed of ``base``
    (other than 0) go into the rows' names (:func:`run_name`) and the encoders' folder
    (``<out>/<name>_<tag>_seed<S>``), so they never mix with the profile's."""
    cfg = variant_config(name, base, profile)
    run = run_name(name, tag, cfg.seed)
    folder = Path(out or default_out(corpus, profile)) / str(run)[len("ssl_"):]

    def report(k, last):
        if log:
            log(f"{name}, fold {k}: {last['epoch']} epochs, loss {last['loss']:.3f}, "
                f"k-NN UAR {last.get('knn_uar', float('nan')):.3f}, {last['wall_s']:.0f} s")

    walls = [last["wall_s"] for last in pretrain_folds(meta, cfg, folder, device, progress, on_fold=report)]
    emb = fold_embeddings(meta, folder, progress=False)
    scores = [neighbour_scores(emb[k], meta) for k in range(N_FOLDS)]
    neighbours = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
    neighbours["per_fold"] = scores
    measured = {"neighbours": neighbours, "pretrain_s": float(sum(walls))}
    rows = probe_checkpoints(meta, folder, str(run), profile=profile, corpus=corpus, progress=False,
                             settings={"variant": name}, measured=measured)
    if name in shortcut.LEARNERS:
        rows += probe_checkpoints(meta, folder, str(run_name(name, tag, cfg.seed, stats=True)),
                                  stats=True, profile=profile, corpus=corpus, progress=False,
                                  settings={"variant": name}, measured=measured)
    return rows


def run(meta: pd.DataFrame, names: Sequence[str] = tuple(VARIANTS), out: str | os.PathLike | None = None,
        base: PretrainConfig | None = None, device: str | None = None, profile: str | None = None,
        corpus: str | None = None, progress: bool = True, log=print, tag: str = "") -> pd.DataFrame:
    """:func:`run_variant` for each of ``names`` (all by default, ``tag`` as there); returns
    :func:`summary`."""
    check_variants(names)
    for name in names:
        run_variant(meta, name, out, base, device, profile, corpus, progress, log, tag)
    return summary(names, profile=profile, corpus=corpus, tag=tag, seed=base.seed if base else 0)


def summary(names: Sequence[str] | None = None, folder: str | os.PathLike | None = None,
            profile: str | None = None, corpus: str | None = None, tag: str = "", seed: int = 0) -> pd.DataFrame:
    """One line per variant (default: every pretext variant with rows; learners by name) from its committed
    rows (:func:`run_name` of ``tag`` and ``seed``): probe UAR
    without and with speaker normalisation (a learner's statistics read-out beside them; NaN for others), 5-NN speaker accuracy and emotion UAR (mean of the fold
    encoders), the options, where the encoders were pretrained, and the pretraining seconds of all five folds."""
    folder = Path(folder) if folder else env.run_dir(env.RESULTS, corpus, profile)
    names = list(names) if names is not None else [n for n in shortcut.VARIANTS  # the pretext variants
                                                   if (folder / f"{run_name(n, tag, seed)}.json").is_file()]
    lines = []
    for name in names:
        run = run_name(name, tag, seed)
        try:
            raw, norm = (json.loads((folder / f"{run.twin(speaker_norm=s)}.json").read_text()) for s in (False, True))
        except FileNotFoundError:
            raise EmolibError(f"no rows {run} in {env.repo_relative(folder)}; run python -m "
                              f"emolib ablation --variants {name}") from None
        encoder = raw["config"]["encoder"]
        stats = [folder / f"{run_name(name, tag, seed, stats=True).twin(speaker_norm=s)}.json" for s in (False, True)]
        lines.append({"variant": name, "options": VARIANTS.get(name, {}), "uar": raw["uar"],
                      "uar_spknorm": norm["uar"], **{k: json.loads(p.read_text())["uar"] if p.is_file() else np.nan
                                                     for k, p in zip(("uar_stats", "uar_stats_spknorm"), stats)},
                      "raw_is_speaker_normalised": raw["speaker_norm"],
                      "speaker_5nn": raw["neighbours"]["speaker_acc"],
                      "emotion_5nn_uar": raw["neighbours"]["emotion_uar"],
                      "encoder": f"{describe_learner(encoder)}, {encoder['epochs']} epochs",
                      "device": encoder["device"], "pretrain_s": raw.get("pretrain_s")})
    return pd.DataFrame(lines).set_index("variant")


def seeds_found(folder: str | os.PathLike | None = None, profile: str | None = None,
                corpus: str | None = None, tag: str = "", names: Sequence[str] | None = None) -> list[int]:
    """The seeds with rows in ``folder`` at the budget tagged ``tag``: 0 (the budget's own rows) and every
    ``S`` of rows ``ssl_<variant>[_<tag>]_seed<S>`` of ``names`` (default: the pretext variants;
    ``python -m emolib ablation --seed S [--tag …]``)."""
    folder = Path(folder) if folder else env.run_dir(env.RESULTS, corpus, profile)
    runs = [RunName.parse(p.stem) for p in folder.glob("ssl_*_seed*.json")]
    found = {r.seed for r in runs if r.tag == tag and r.stem[len("ssl_"):] in (names or shortcut.VARIANTS)
             and not r.speaker_norm and r.protocol == "si5"}
    return [0, *sorted(found)]


def seed_summary(names: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                 folder: str | os.PathLike | None = None, profile: str | None = None,
                 corpus: str | None = None, tag: str = "") -> pd.DataFrame:
    """How much of the ablation is seed noise: per variant (default: every pretext variant), the mean and the standard deviation
    (ddof 1) over ``seeds`` (default: every seed with rows, :func:`seeds_found`) of the probe UAR
    without and with speaker normalisation, and the mean 5-NN speaker accuracy and emotion UAR, at
    the budget tagged ``tag`` (default: the profile's).  Only variants with rows for every seed are kept."""
    folder = Path(folder) if folder else env.run_dir(env.RESULTS, corpus, profile)
    seeds = list(seeds) if seeds is not None else seeds_found(folder, tag=tag, names=names)
    names = [n for n in (names or shortcut.VARIANTS)
             if all((folder / f"{run_name(n, tag, s)}.json").is_file() for s in seeds)]
    if not names:
        raise EmolibError(f"no variant has rows for seeds {seeds}{f' tagged {tag}' if tag else ''} in "
                          f"{env.repo_relative(folder)}; run python -m emolib ablation --seed S"
                          + (f" --tag {tag}" if tag else ""))
    table = pd.concat([summary(names, folder, tag=tag, seed=s).assign(seed=s) for s in seeds])
    agg = table.groupby(level="variant", sort=False).agg(
        seeds=("seed", "size"), uar=("uar", "mean"), uar_sd=("uar", "std"), uar_spknorm=("uar_spknorm", "mean"),
        uar_spknorm_sd=("uar_spknorm", "std"), speaker_5nn=("speaker_5nn", "mean"),
        emotion_5nn_uar=("emotion_5nn_uar", "mean"), raw_is_speaker_normalised=("raw_is_speaker_normalised", "first"))
    return agg.sort_values("uar", ascending=False)


def histories(out: str | os.PathLike | None = None, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The pretraining histories of ``<out>/<variant>/fold<k>`` in one table (columns variant,
    fold, then those of ``history.jsonl``: epoch, loss, k-NN monitor, the adversary's speaker
    accuracy where there is one, wall seconds)."""
    out = Path(out or default_out())
    names = list(names) if names is not None else [n for n in shortcut.VARIANTS if (out / n).is_dir()]
    parts = [read_history(out / name, k).assign(variant=name, fold=k) for name in names for k in range(N_FOLDS)]
    if not parts:
        raise EmolibError(f"no pretraining histories under {out}; run python -m emolib ablation first")
    table = pd.concat(parts, ignore_index=True)
    return table[["variant", "fold", *[c for c in table.columns if c not in ("variant", "fold")]]]

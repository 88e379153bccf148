"""Notebook 04's studies as library functions: each probes or trains, writes its results rows
through :func:`emolib.evaluation.probes.probe_rows` / :func:`emolib.evaluation.results.write_result` (every row
naming its encoder, read-out, probe or budget, profile, device and seed) and returns what the
notebook shows, so a notebook cell calls one of them in a line or two.

- :func:`probe_study` — random weights and the MoCo v3 encoders under three read-outs and two
  probes, each without and with speaker normalisation;
- :func:`finetune_vs_scratch` — the ViT fine-tuned from its MoCo v3 weights and trained from
  random weights with the same budget (each through :func:`finetune_row`, also ``python -m emolib
  finetune`` for any folder of fold encoders);
- :func:`epochs_curve` and :func:`batch_size_study` — the report's Figure 5 questions under SI-5;
- :func:`long_pretraining_rows` and :func:`compare_encoders` — a longer pretraining beside the
  40-epoch encoders (the recipe's and the default encoder);
- :func:`side_by_side_curve` — how the probe grows with the number of encoder folders side by side,
  against as many random-weight ViTs side by side (``python -m emolib probe --out A B … --curve``).

This is the one module of the evaluation side that starts a pretraining (:func:`batch_size_study`):
:mod:`emolib.ssl.encoders`, :mod:`emolib.evaluation.probes` and :mod:`emolib.evaluation.finetune` import nothing from training.
"""
from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..core import devices, env
from ..data.features import log_mels
from ..data.splits import PROTOCOL_NAMES
from ..evaluation import results
from ..evaluation.finetune import FinetuneConfig, finetune_cv
from ..evaluation.metrics import uar
from ..evaluation.probes import (
    HeadConfig,
    logreg_probe,
    neighbour_scores,
    probe_checkpoints,
    probe_cv,
    probe_rows,
    torch_probe,
)
from ..evaluation.probes import budget as probe_budget
from ..evaluation.runs import SCRATCH_STEM, encoder_prefix, finetune_stem, probe_stem, twin
from ..models.vit import BackboneConfig
from ..ssl.encoders import (
    N_FOLDS,
    describe_encoder,
    encoder_config,
    encoder_summary,
    exported,
    fold_embeddings,
    random_embeddings,
    require,
    speaker_input,
)
from ..ssl.pretrain import pretrain_fold, read_history
from ..ssl.pretrain_config import PretrainConfig


def last_blocks(depth: int) -> int:
    """How many blocks' class tokens the ``cls×4`` read-out joins: four, fewer in a shallower ViT."""
    return min(4, depth)


def readouts(depth: int) -> dict[str, dict]:
    """Notebook 04's read-outs as :func:`emolib.ssl.encoders.fold_embeddings` keywords: ``cls``,
    ``mean`` and ``cls×4`` (the class tokens of the last :func:`last_blocks` blocks)."""
    last = last_blocks(depth)
    return {"cls": dict(pool="cls"), "mean": dict(pool="mean"), f"cls×{last}": dict(pool="cls", blocks=last)}


def study_embeddings(meta: pd.DataFrame, out: str | os.PathLike, cfg: PretrainConfig,
                     progress: bool = True) -> tuple[dict[str, dict[int, np.ndarray]], dict[int, np.ndarray]]:
    """Every read-out of the fold encoders in ``out`` (``{read-out: {fold: vectors}}``) and the
    class token of a random-weight ViT of the same shape (seed ``cfg.seed``)."""
    emb = {name: fold_embeddings(meta, out, progress=progress, **kw) for name, kw in readouts(cfg.depth).items()}
    return emb, random_embeddings(meta, cfg.backbone(), seed=cfg.seed)


def probes_for(budget: dict) -> dict[str, Callable]:
    """The two probes of notebook 04 at the profile's budget (:data:`emolib.core.budgets.PROBE`)."""
    return {"logistic regression": logreg_probe(budget["logreg_C"]),
            "torch linear head": torch_probe(HeadConfig(epochs=budget["head_epochs"]))}


def _random_encoder(cfg: PretrainConfig) -> dict:
    return {"random_init": asdict(cfg.backbone()), "seed": cfg.seed}


def run_prefix(encoder: dict) -> str:
    """How notebook 04's rows of an encoder (an :func:`emolib.ssl.encoders.encoder_summary`) begin:
    ``moco`` for the report's recipe, ``moco_<variant>`` for a pretext variant (:func:`emolib.evaluation.runs.encoder_prefix`)."""
    pre = encoder.get("pretrain", {})
    return encoder_prefix(encoder["pretext"], encoder["aug"], encoder.get("arch"), pre.get("objective", "moco"),
                          pre.get("targets", "none"))


def probe_study(meta: pd.DataFrame, out: str | os.PathLike, cfg: PretrainConfig, embeddings: dict,
                random: dict[int, np.ndarray], budget: dict, profile: str | None = None,
                corpus: str | None = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Notebook 04's probe table: logistic regression on the random-weight ViT and on each read-out
    of the MoCo v3 encoders (``embeddings`` from :func:`study_embeddings`), the torch head on the
    class token; each without and with speaker normalisation, written as rows
    ``vit_random_probe_logreg``, ``<prefix>_probe_logreg[_mean|_cls_last_blocks]``, ``<prefix>_probe_torch``
    (and ``…_spknorm``), the prefix naming the encoder's pretext (:func:`run_prefix`: ``moco`` for the
    report's recipe, ``moco_warp_speaker_input`` for the default encoder).  Returns the rows and their
    predictions by run."""
    fits = probes_for(budget)
    enc = encoder_summary(out)
    folder = {"encoders": env.repo_relative(out)}  # settings of the encoder rows
    jobs = [(probe_stem("vit_random"), "random-init ViT, linear probe (logistic regression)", random,
             fits["logistic regression"], _random_encoder(cfg), dict(pool="cls"), None)]
    prefix, what = run_prefix(enc), describe_encoder(enc)
    for name, kw in readouts(cfg.depth).items():
        jobs.append((probe_stem(prefix, "logreg", kw), f"{what}, {name}, linear probe (logistic regression)",
                     embeddings[name], fits["logistic regression"], enc, kw, folder))
    jobs.append((probe_stem(prefix, "torch"), f"{what}, cls, linear probe (torch head, BN)", embeddings["cls"],
                 fits["torch linear head"], enc, dict(pool="cls"), folder))
    rows, preds = [], {}
    for run, method, emb, fit, encoder, kw, extra in jobs:
        written, p = probe_rows(meta, run, emb, fit, method=method, encoder=encoder,
                                readout={"pool": kw["pool"], "blocks": kw.get("blocks", 1)},
                                speaker_input=speaker_input(encoder), profile=profile, corpus=corpus,
                                settings=extra)
        rows += written
        preds.update(p)
    return pd.DataFrame(rows), preds


def finetune_row(meta: pd.DataFrame, run: str, ft: FinetuneConfig, out: str | os.PathLike | None,
                 encoder: dict, method: str, backbone_cfg=None, profile: str | None = None,
                 corpus: str | None = None, device: str | None = None, progress: bool = True,
                 protocol: str = "si5") -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Fine-tune from each fold's encoder in ``out`` (``None``: random weights of ``backbone_cfg``)
    with budget ``ft`` on ``protocol``'s folds and write row ``run`` (its twin on another protocol):
    returns the row, the predictions and the per-epoch histories.  An encoder pretrained on per-speaker
    inputs is fine-tuned on them (each speaker, the held-out ones too, with its own audio's statistics):
    a speaker-normalised row.  Only fold encoders of that protocol: another protocol's encoder for fold k
    heard fold k's test speakers."""
    if out is not None:
        require(encoder, out, protocol)
    pred, history, wall = finetune_cv(meta, ft, out, backbone_cfg, device=device, progress=progress, protocol=protocol)
    row = results.write_result(
        twin(run, protocol=protocol), pred, method=method, protocol=PROTOCOL_NAMES[protocol],
        profile=env.level(profile), corpus=env.corpus_name(corpus), speaker_norm=speaker_input(encoder), wall_s=wall,
        device=None if device is None else devices.name(device),
        config={"finetune": ft.to_dict(), "encoder": encoder, "seed": ft.seed,
                **({"encoders": env.repo_relative(out)} if out is not None else {})})
    return row, pred, history


def finetune_vs_scratch(meta: pd.DataFrame, out: str | os.PathLike, cfg: PretrainConfig, ft: FinetuneConfig,
                        profile: str | None = None, corpus: str | None = None,
                        progress: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The ViT fine-tuned end to end from each fold's MoCo v3 encoder in ``out`` (row
    ``<prefix>_finetune``, :func:`run_prefix`) and the same ViT trained from random weights with the same budget ``ft``
    (row ``vit_scratch``).  Returns the rows, the predictions and the per-epoch histories by run."""
    enc = encoder_summary(out)
    runs = {finetune_stem(run_prefix(enc)): (f"{describe_encoder(enc)}, fine-tuned", out, enc),
            SCRATCH_STEM: ("ViT from random init, same budget", None, _random_encoder(cfg))}
    rows, preds, histories = [], {}, {}
    for run, (method, start, encoder) in runs.items():
        row, preds[run], histories[run] = finetune_row(meta, run, ft, start, encoder, method, cfg.backbone(),
                                                       profile, corpus, progress=progress)
        rows.append(row)
    return pd.DataFrame(rows), preds, histories


def epochs_curve(meta: pd.DataFrame, out: str | os.PathLike, cfg: PretrainConfig, fit_predict: Callable,
                 random: dict[int, np.ndarray]) -> pd.DataFrame:
    """Probe UAR per fold after 0 (random weights), each kept epoch (``cfg.keep_epochs``) and the
    last epoch of pretraining: one row per (epoch, fold).  Nothing is written: a curve, not a result."""
    curve = []
    for epoch in (0, *cfg.keep_epochs, cfg.epochs):
        emb = random if epoch == 0 else fold_embeddings(meta, out, epoch=None if epoch == cfg.epochs else epoch,
                                                        progress=False)
        pred = probe_cv(meta, emb, fit_predict)
        curve += [{"epoch": epoch, "fold": k, "uar": uar(g.y_true, g.y_pred)} for k, g in pred.groupby("fold")]
    return pd.DataFrame(curve)


def batch_size_study(meta: pd.DataFrame, cfg, sizes: Sequence[int], epochs: int, out: str | os.PathLike,
                     fit_predict: Callable, fold: int = 0, progress: bool = True) -> pd.DataFrame:
    """The report's batch-size question under SI-5, on one fold with a shorter budget: for each
    batch size, pretrain ``epochs`` epochs (lr scaled with the batch, warmup scaled with the
    budget) into ``<out>/bs<size>`` (resumable), then probe.  One row per batch size."""
    rows = []
    for size in sizes:
        c = replace(cfg, batch_size=size, epochs=epochs, warmup_epochs=cfg.warmup_epochs * epochs / cfg.epochs,
                    keep_epochs=(), knn_every=epochs, save_every=epochs)
        folder = Path(out) / f"bs{size}"
        history = pretrain_fold(meta, fold, c, folder, resume="auto", progress=progress)
        emb = fold_embeddings(meta, folder, folds=[fold], progress=False)
        pred = probe_cv(meta, emb, fit_predict, folds=[fold])
        rows.append({"batch_size": size, "fold": fold, "epochs": epochs, "steps": history[-1]["step"],
                     "final_loss": history[-1]["loss"], "uar": uar(pred.y_true, pred.y_pred),
                     "pretrain_s": history[-1]["wall_s"]})
    return pd.DataFrame(rows)


def long_pretraining_rows(meta: pd.DataFrame, out: str | os.PathLike, run: str,
                          profile: str | None = None) -> tuple[list[dict], bool]:
    """The probe rows of a longer pretraining: ``<run>`` (class token) and ``<run>_cls_last_blocks``
    (class tokens of the last four blocks), each with ``_spknorm``.  Probed and written again when
    its encoders are in ``out``; else, in the full profile, the committed rows.  Returns the rows
    and whether the encoders were there."""
    names = [twin(f"{run}{suffix}", speaker_norm=norm) for suffix in ("", "_cls_last_blocks") for norm in (False, True)]
    if exported(out):
        last = last_blocks(encoder_summary(out)["depth"])
        rows = []
        for name, blocks in ((names[0], 1), (names[2], last)):
            rows += probe_checkpoints(meta, out, name, blocks=blocks, profile=profile, progress=False)
        return rows, True
    if env.level(profile) == "full":
        return results.read_rows(names), False
    return [], False


def encoder_diagnostics(meta: pd.DataFrame, out: str | os.PathLike) -> dict:
    """What the fold encoders in ``out`` learnt, without a probe: the pretraining's own k-NN monitor
    (held-out speakers, final epoch, mean of the folds) and fold 0's 5-NN speaker accuracy and
    emotion UAR (:func:`emolib.evaluation.probes.neighbour_scores`)."""
    monitor = np.mean([read_history(out, k).dropna(subset=["knn_uar"]).knn_uar.iloc[-1] for k in range(N_FOLDS)])
    return {"k-NN monitor UAR": monitor, **neighbour_scores(fold_embeddings(meta, out, folds=[0], progress=False)[0], meta)}


def compare_encoders(meta: pd.DataFrame, encoders: dict[str, tuple[str | os.PathLike, str]]) -> pd.DataFrame:
    """Folders of fold encoders side by side (``{name: (folder, run)}``): the probe rows ``run`` and
    ``run_spknorm`` from the results store, and :func:`encoder_diagnostics` where the weights are on disk."""
    table = {}
    for name, (out, run) in encoders.items():
        plain, spk = results.read_rows([run, twin(run, speaker_norm=True)])
        entry = {"probe": plain["uar"], "probe, speaker-normalised": spk["uar"]}
        if exported(out):
            entry.update(encoder_diagnostics(meta, out))
        table[name] = entry
    return pd.DataFrame(table).T


def side_by_side_curve(meta: pd.DataFrame, folders: Sequence[str | os.PathLike], fit_predict: Callable | None = None,
                       profile: str | None = None, progress: bool = True,
                       all_folders: tuple[float, float] | None = None) -> pd.DataFrame:
    """How a probe on several folders' fold encoders side by side grows with their number.

    For ``k = 1 … len(folders)``: the class tokens of the first ``k`` folders, *in the order given*
    (no result chooses it), concatenated per fold, one probe per fold (logistic regression unless
    ``fit_predict``), UAR without and with speaker normalisation; and, as the floor, ``k`` randomly
    initialised ViTs of the first folder's shape (seeds ``0 … k-1``) with the same probe, which says
    how much of the growth a wider feature vector alone would give.  One line per ``(encoders, k)``:
    ``encoders`` (``"trained"`` / ``"random"``), ``k``, ``added`` (the folder, or the seed),
    ``speaker_input`` (whether any of the first ``k`` used per-speaker inputs: its ``uar`` is then
    speaker-normalised too), ``uar``, ``uar_spknorm``.  Every folder must hold SI-5 fold encoders.
    ``all_folders``: the two UARs of every folder side by side when the caller has them already (the
    rows ``python -m emolib probe --curve`` has just written, with the same probe): that point is not
    probed again."""
    folders = list(folders)
    summaries = [encoder_summary(f) for f in folders]  # missing or mismatched encoders: one line, before any work
    for summary, folder in zip(summaries, folders):
        require(summary, folder)  # SI-5's folds: another protocol's fold k encoder heard SI-5 fold k's test speakers
    fit_predict = fit_predict or logreg_probe(probe_budget(profile)["logreg_C"])
    shape = BackboneConfig(**encoder_config(folders[0], 0)[1]["backbone"])
    trained = [fold_embeddings(meta, f, progress=False) for f in folders]
    mels = log_mels(meta.path, progress=False)  # read once for every random ViT
    lines = []
    for kind in ("trained", "random"):
        embs = []
        for k in range(1, len(folders) + 1):
            embs.append(trained[k - 1] if kind == "trained" else random_embeddings(meta, shape, seed=k - 1, mels=mels))
            if kind == "trained" and k == len(folders) and all_folders is not None:
                scores = dict(zip(("uar", "uar_spknorm"), all_folders))
            else:
                joined = {f: np.concatenate([e[f] for e in embs], axis=1) for f in embs[0]}
                scores = {}
                for norm in (False, True):
                    pred = probe_cv(meta, joined, fit_predict, speaker_norm=norm)
                    scores["uar_spknorm" if norm else "uar"] = uar(pred.y_true, pred.y_pred)
            lines.append({"encoders": kind, "k": k,
                          "added": env.repo_relative(folders[k - 1]) if kind == "trained" else f"seed {k - 1}",
                          "speaker_input": kind == "trained" and any(speaker_input(e) for e in summaries[:k]),
                          **scores})
            if progress:
                print(f"{kind}, {k} side by side: UAR {100 * scores['uar']:.1f} %, "
                      f"speaker-normalised {100 * scores['uar_spknorm']:.1f} %", flush=True)
    return pd.DataFrame(lines)

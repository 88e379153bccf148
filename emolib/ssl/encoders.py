"""The pretrained fold encoders: where they live on disk, what they are, and their embeddings.

This module is the one place that knows the layout of a pretraining folder (``<out>/fold<k>/``:
:func:`fold_dir`, :func:`backbone_path`, :func:`checkpoint_path`, :func:`history_path`);
:mod:`emolib.ssl.pretrain` writes there through it and everything that reads an encoder reads through
it.  It imports nothing from training.

- :func:`load_encoder` — a fold's exported backbone (final or a kept epoch) as a frozen plain
  ``timm`` ViT, in one call; a missing or mismatched file is an error naming it and the fold.
- :func:`encoder_summary` — what a folder of fold encoders is (architecture, budget, pretext
  options, device, each fold's SHA-256), as results rows record it.
- :func:`fold_embeddings` — one utterance embedding per utterance and fold
  (:func:`emolib.models.vit.embed`: windows over the whole utterance, pooled), cached on disk per
  checkpoint file content and setting; :func:`random_embeddings` — the same from random weights.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core import env
from ..core.errors import EmolibError
from ..core.files import atomic_write, sha256_file
from ..data.features import FeatureCache, LogMelConfig, fit_standardizer, log_mels
from ..data.splits import SI5_FOLDS, speaker_folds
from ..models.vit import BackboneConfig, create_backbone, embed, load_backbone
from .shortcut import DEFAULTS as PRETEXT_DEFAULTS
from .shortcut import LEARNERS, VARIANTS
from .standardize import encoder_inputs

N_FOLDS = len(SI5_FOLDS)

# --- the layout of a pretraining folder ------------------------------------------------------

#: The "fold" of a final model (:mod:`emolib.systems.final`): every speaker trains, none is held out, so
#: there is no k-NN monitor; written to ``<out>/all``.
ALL_SPEAKERS = -1


def fold_dir(out: str | os.PathLike, fold: int) -> Path:
    """``<out>/fold<k>`` (``<out>/all`` for :data:`ALL_SPEAKERS`)."""
    return Path(out) / ("all" if fold == ALL_SPEAKERS else f"fold{fold}")


def checkpoint_path(out: str | os.PathLike, fold: int) -> Path:
    """The resumable training state of a fold: ``<out>/fold<k>/checkpoint.pt``."""
    return fold_dir(out, fold) / "checkpoint.pt"


def history_path(out: str | os.PathLike, fold: int) -> Path:
    """One JSON line per pretraining epoch: ``<out>/fold<k>/history.jsonl``."""
    return fold_dir(out, fold) / "history.jsonl"


def backbone_path(out: str | os.PathLike, fold: int, epoch: int | None = None) -> Path:
    """``<out>/fold<k>/backbone`` (the final export) or ``backbone_e<epoch>`` (a kept epoch)."""
    name = "backbone" if epoch is None else f"backbone_e{epoch:04d}"
    return fold_dir(out, fold) / name


def exported(out: str | os.PathLike, fold: int = 0, epoch: int | None = None) -> bool:
    """Whether fold ``fold``'s encoder (final, or kept at ``epoch``) is in ``out``: its weights and its JSON."""
    path = backbone_path(out, fold, epoch)
    return path.with_suffix(".safetensors").is_file() and path.with_suffix(".json").is_file()


# --- loading ---------------------------------------------------------------------------------

def encoder_config(out: str | os.PathLike, fold: int, epoch: int | None = None) -> tuple[Path, dict]:
    """The path and JSON config of fold ``fold``'s encoder, checked (present, written for this
    fold and epoch) without loading its weights.  Errors name the file and the fold, and say
    how to make it."""
    path = backbone_path(out, fold, epoch)
    which = "final" if epoch is None else f"epoch-{epoch}"
    if not exported(out, fold, epoch):
        name = Path(out).name
        variant = f"--variant {name}" if name in VARIANTS else "--variant NAME (report: the report's recipe)"
        hint = (f"python -m emolib pretrain {variant} --fold {fold} --out {out}" if epoch is None else
                f"python -m emolib pretrain {variant} --fold {fold} --keep-epochs {epoch} --out {out}")
        if name.split("_seed")[0] in LEARNERS:  # a learner's folder of the learners' study
            hint = f"python -m emolib ablation --variants {name.split('_seed')[0]}"
        raise EmolibError(f"fold {fold}: no {which} encoder at {path}.safetensors/.json; pretrain it first "
                          f"(notebook 03 makes the default encoder; or {hint})")
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except ValueError as e:
        raise EmolibError(f"fold {fold}: {path}.json is not valid JSON ({e}); export the encoder again") from None
    if meta.get("fold") != fold:
        raise EmolibError(f"{path}.json was pretrained for fold {meta.get('fold')}, not fold {fold}: its "
                          "training speakers include this fold's test speakers; use the file of fold "
                          f"{fold}")
    if epoch is not None and meta.get("epoch") != epoch:
        raise EmolibError(f"{path}.json says epoch {meta.get('epoch')}, not {epoch}")
    return path, meta


def load_encoder(out: str | os.PathLike, fold: int, epoch: int | None = None,
                 device="cpu") -> tuple[nn.Module, dict]:
    """The frozen encoder pretrained for SI-5 fold ``fold`` (eval mode, no gradients) and its
    JSON config (checked by :func:`encoder_config`)."""
    path, _ = encoder_config(out, fold, epoch)
    try:
        model, meta = load_backbone(path, device)
    except EmolibError as e:
        raise EmolibError(f"fold {fold}: {e}") from None
    model.requires_grad_(False)
    return model, meta


def input_norm(info: dict) -> str:
    """How an encoder's inputs are normalised (``input_norm`` of its pretraining:
    :data:`emolib.ssl.shortcut.INPUT_NORM`; ``"global"`` for encoders saved before the option and for a
    random initialisation).  ``info``: a backbone's JSON config or an :func:`encoder_summary`."""
    return (info.get("pretext") or info.get("pretrain") or {}).get("input_norm", "global")


def speaker_input(info: dict) -> bool:
    """Whether an encoder was pretrained on per-speaker standardised log-mels (``input_norm``
    ``"speaker"``): its embeddings use each speaker's own statistics, so every probe of it is a
    speaker-normalised row."""
    return input_norm(info) == "speaker"


def encoder_summary(out: str | os.PathLike, epoch: int | None = None) -> dict:
    """What a folder of fold encoders is, from fold 0's JSON: architecture, depth, pretraining
    epochs, batch size, view recipe, the folds' protocol and the device it was pretrained on (for
    results rows).  Every fold's encoder must come from the same protocol's folds."""
    configs = [encoder_config(out, k, epoch) for k in range(N_FOLDS)]
    info = configs[0][1]
    pre = info.get("pretrain", {})
    protocol = pre.get("protocol", "si5")
    for k, (_, other) in enumerate(configs):
        if other.get("pretrain", {}).get("protocol", "si5") != protocol:
            raise EmolibError(f"{out}: fold 0 was pretrained on {protocol} folds, fold {k} on "
                              f"{other['pretrain'].get('protocol', 'si5')}; pretrain every fold with one --protocol")
    return {"arch": info["backbone"]["arch"], "depth": info["backbone"]["depth"], "epochs": info.get("epoch"),
            "batch_size": pre.get("batch_size"), "aug": pre.get("aug"), "protocol": protocol,
            "device": info.get("device", "not recorded"),
            "pretext": {k: pre.get(k, d) for k, d in PRETEXT_DEFAULTS.items()}, "pretrain": pre,
            "sha256": [sha256_file(path.with_suffix(".safetensors")) for path, _ in configs]}


def require(summary: dict, folder: str | os.PathLike, protocol: str | None = "si5",
            raw: bool = False) -> None:
    """One-line errors, before any work, for fold encoders (an :func:`encoder_summary`) that a use cannot
    take: pretrained on other folds than ``protocol``'s (their encoder for fold k heard fold k's test
    speakers), or, with ``raw``, on per-speaker inputs (their embeddings carry the test speaker's statistics).
    Both name the folder and how to make fitting encoders."""
    if protocol is not None and summary["protocol"] != protocol:
        raise EmolibError(f"{folder}: its encoders were pretrained on {summary['protocol']} folds, not {protocol}'s; "
                          f"pretrain them with --protocol {protocol}")
    if raw and speaker_input(summary):
        raise EmolibError(f"{folder}: pretrained on per-speaker inputs, which a system without speaker normalisation "
                          "cannot use; pass the report's recipe (python -m emolib pretrain --variant report)")


def describe_pretext(pretext: dict) -> str:
    """``"speaker batches, warp ±0.15"``-style words for the options that differ from the defaults."""
    words = []
    if pretext.get("batch_by", "none") != "none":
        words.append(f"{pretext['batch_by']} batches")
    if pretext.get("input_norm", "global") == "utterance":
        words.append("each file centred on its own mean")
    elif pretext.get("input_norm", "global") == "shape":
        words.append("each file's long-term spectrum flattened to a line")
    elif pretext.get("input_norm", "global") != "global":
        words.append(f"{pretext['input_norm']} input statistics")
    warps = [f"{name} warp ±{pretext[k]:g}" for k, name in (("warp", "mel"), ("formant", "formant"), ("pitch", "pitch"))
             if pretext.get(k)]
    if warps:
        words.append(" and ".join(warps) + (" on one view" if pretext.get("warp_views") == "one" else ""))
    if pretext.get("adversary"):
        words.append(f"speaker adversary ×{pretext['adversary']:g}")
    return ", ".join(words)


#: How a row's method names each pretraining objective (:data:`emolib.ssl.shortcut.OBJECTIVES`).
OBJECTIVE_WORDS = {"moco": "MoCo v3", "masked": "masked log-mel prediction",
                   "both": "MoCo v3 + masked log-mel prediction", "none": ""}


def describe_learner(enc: dict) -> str:
    """``"MoCo v3 vit_tiny/6"`` for an :func:`encoder_summary`: its objective, what it regresses besides (rows of
    such learners say they are self-supervised with signal-derived targets) and its backbone (a CNN has no depth)."""
    from ..models.archs import CNNS

    pretrain = enc.get("pretrain", {})
    words = OBJECTIVE_WORDS[pretrain.get("objective", "moco")]
    if pretrain.get("targets", "none") != "none":
        words = " + ".join(w for w in (words, f"signal-derived targets ({pretrain['targets']}, self-supervised)") if w)
    return f"{words} {enc['arch']}" + ("" if enc["arch"] in CNNS else f"/{enc['depth']}")


def describe_encoder(enc: dict) -> str:
    """``"MoCo v3 vit_tiny/6, 40 epochs, batch 64, report views, mel warp ±0.15 (cpu)"`` for an
    :func:`encoder_summary` (the start of a results row's ``method``; :func:`describe_learner`)."""
    options = describe_pretext(enc["pretext"])
    return (f"{describe_learner(enc)}, {enc['epochs']} epochs, batch {enc['batch_size']}, "
            f"{enc['aug']} views{', ' + options if options else ''} ({enc['device']})")


def describe_encoders(encs: Sequence[dict]) -> str:
    """Words for several :func:`encoder_summary` s probed side by side: seeds of one pretext as
    ``"<describe_encoder> seed 0 + … seed 1, side by side"``; pretexts of one budget as ``"MoCo v3
    vit_tiny/6, 40 epochs, batch 64 (cpu), 12 pretexts side by side: report, crop, …"`` (the
    ablation's variant names, :func:`emolib.ssl.shortcut.variant_of`); anything else each in full."""
    from .shortcut import variant_of

    if len(encs) == 1:
        return describe_encoder(encs[0])
    budget = ("arch", "depth", "epochs", "batch_size", "device")
    same_pretext = all(e["pretext"] == encs[0]["pretext"] and e["aug"] == encs[0]["aug"] for e in encs)
    same_learner = all(describe_learner(e) == describe_learner(encs[0]) for e in encs)
    if not same_pretext and same_learner and all(all(e[k] == encs[0][k] for k in budget) for e in encs):
        e = encs[0]
        kinds = [variant_of(x["pretext"], x["aug"]) or describe_pretext(x["pretext"]) for x in encs]
        return (f"{describe_learner(e)}, {e['epochs']} epochs, batch {e['batch_size']} ({e['device']}), "
                f"{len(encs)} pretexts side by side: {', '.join(kinds)}")
    return " + ".join(f"{describe_encoder(e)} seed {e['pretrain'].get('seed', 0)}" for e in encs) + ", side by side"


# --- utterance embeddings ------------------------------------------------------------------

def fold_embeddings(meta: pd.DataFrame, out: str | os.PathLike, epoch: int | None = None,
                    pool: str = "cls", blocks: int = 1, folds: Sequence[int] = range(N_FOLDS),
                    device="cpu", progress: bool = True, cache: bool = True, stats: bool = False) -> dict[int, np.ndarray]:
    """``{fold: (n_utterances, dim)}``: every utterance of ``meta`` embedded by each fold's
    encoder (inputs standardised with that fold's training statistics, saved with it).

    ``pool``, ``blocks`` and ``stats`` (the statistics read-out) as in :func:`emolib.models.vit.embed`.  Cached under the cache
    directory, keyed by the checkpoint's content (weights, and the config that holds the window
    length and statistics), ``pool``, ``blocks`` and the audio content of every utterance, so a
    retrained encoder or a changed corpus is never served stale vectors."""
    audio = FeatureCache(LogMelConfig())
    corpus_key = hashlib.sha256("".join(audio.digest(p) for p in meta.path).encode()).hexdigest()
    audio.flush()
    mels, result = None, {}
    for k in folds:
        path, info = encoder_config(out, k, epoch)  # the weights are loaded only on a cache miss
        key = hashlib.sha256(json.dumps([sha256_file(path.with_suffix(".safetensors")),
                                         sha256_file(path.with_suffix(".json")),
                                         pool, blocks, corpus_key, 1, *(["stats"] if stats else [])]).encode()).hexdigest()[:32]
        file = env.cache_dir() / "embeddings" / f"{key}.npy"
        if cache and file.is_file():
            try:
                result[k] = np.load(file)
                if result[k].shape[0] == len(meta):
                    continue
            except (OSError, ValueError):
                pass  # damaged: computed again and rewritten
        model, _ = load_encoder(out, k, epoch, device)
        if mels is None:
            mels = log_mels(meta.path, progress=progress)
        # "speaker": each speaker (held-out ones too) with its own audio's statistics;
        # "utterance", "shape": each file's own step first
        inputs, mean, std = encoder_inputs(mels, meta.speaker.astype(str).to_numpy(), input_norm(info),
                                           np.array(info["normalization"]["mean"]), np.array(info["normalization"]["std"]))
        X = embed(model, inputs, mean, std, info["backbone"]["frames"],
                  pool=pool, blocks=blocks, device=device, progress=progress, stats=stats)
        if cache:
            buf = io.BytesIO()
            np.save(buf, X)
            atomic_write(file, buf.getvalue())
        result[k] = X
    return result


def random_embeddings(meta: pd.DataFrame, cfg: BackboneConfig, seed: int = 0, pool: str = "cls",
                      blocks: int = 1, progress: bool = False, mels: list | None = None,
                      stats: bool = False) -> dict[int, np.ndarray]:
    """The same embeddings from a randomly initialised ViT of the same shape (``seed``), with
    each fold's own input statistics: the floor that pretraining has to beat.  ``mels``: the
    corpus's log-mels when the caller already holds them (several seeds read them once)."""
    mels = log_mels(meta.path, progress=progress) if mels is None else mels
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left alone
        torch.manual_seed(seed)
        model = create_backbone(cfg)
    out = {}
    for f in speaker_folds(meta, "si5"):
        std = fit_standardizer(mels, f)
        out[f.index] = embed(model, mels, std.mean, std.std, cfg.frames, pool=pool, blocks=blocks, stats=stats)
    return out


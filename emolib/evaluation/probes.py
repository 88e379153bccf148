"""Probes of frozen encoders, under SI-5 (docs/protocol.md).

Each SI-5 fold has its own encoder (:mod:`emolib.ssl.encoders`), so every number here is computed per
fold with that fold's embeddings:

- :func:`logreg_probe` (multinomial logistic regression on standardised embeddings, its ``C``
  chosen by cross-validation over the training speakers) and :func:`torch_probe` (a linear layer
  behind a non-affine BatchNorm, as in MoCo v3 / MAE linear probing);
- :func:`probe_cv` runs one over the folds and returns the out-of-fold predictions;
- :func:`probe_rows` writes a probe's rows, without and with speaker normalisation, each naming
  its encoder, read-out, probe, profile and device; :func:`probe_checkpoints` does it for a
  folder of fold encoders (``python -m emolib probe``);
- :func:`neighbour_scores` — what an embedding space holds (speaker and emotion by 5-NN).
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..core import budgets, devices, env
from ..core.errors import EmolibError
from ..data.emodb import CLASSES
from ..data.features import speaker_standardize
from ..data.splits import PROTOCOL_NAMES
from ..ssl.encoders import N_FOLDS, describe_encoders, encoder_summary, fold_embeddings, speaker_input
from .calibration import calibrated_cv, summary
from .metrics import Timer, cross_validate, fit_by_speakers, in_class_order
from .results import write_result
from .runs import twin


def logreg_model(seed: int = 0):
    """The probe's model: standardised features, multinomial logistic regression with balanced
    class weights (its ``C`` is the parameter ``logisticregression__C``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced",
                                                              random_state=seed))


def logreg_probe(C: float | Sequence[float] = budgets.LOGREG_C, seed: int = 0):
    """``fit_predict(X_train, y_train, X_test, groups)``: :func:`logreg_model`.  With several ``C``
    the one with the best UAR in leave-speakers-out cross-validation *within the training speakers*
    (4 groups) is used (:func:`emolib.evaluation.metrics.fit_by_speakers`): the held-out speakers never
    choose it."""
    grid = [C] if np.isscalar(C) else list(C)

    def fit_proba(X_train, y_train, groups, X_test):
        model = fit_by_speakers(logreg_model(seed), "logisticregression__C", grid, X_train, y_train, groups)
        return in_class_order(model.predict_proba(X_test), model.classes_)

    def fit_predict(X_train, y_train, X_test, groups=None):
        return np.array(CLASSES)[fit_proba(X_train, y_train, groups, X_test).argmax(axis=1)]

    fit_predict.proba = fit_proba  # the class probabilities, for calibrated rows (probe_cv)
    fit_predict.settings = {"kind": "logreg", "C": grid, "seed": seed}  # what a results row records
    fit_predict.device = "cpu"
    return fit_predict


def budget(profile: str | None = None) -> dict:
    """Notebook 04's probe and batch-size-study budget (:data:`emolib.core.budgets.PROBE`)."""
    return budgets.budget(budgets.PROBE, profile)


def class_weights(y: torch.Tensor) -> torch.Tensor:
    """Balanced cross-entropy weights ``n / (n_classes · count)`` for class indices ``y`` (0 for
    a class absent from ``y``): every emotion counts equally, as in UAR."""
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    return torch.where(counts > 0, len(y) / (len(CLASSES) * counts.clamp(min=1)), torch.zeros(()))


@dataclass
class HeadConfig:
    """The torch linear probe: ``BatchNorm1d(affine=False) -> Linear``, AdamW, cosine lr."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 1e-3
    seed: int = 0


def torch_probe(cfg: HeadConfig = HeadConfig(), device: str | None = None):
    """``fit_predict(X_train, y_train, X_test, groups)`` training a linear layer behind a
    non-affine BatchNorm (the MoCo v3 / MAE linear-probe head) on frozen features, with a
    class-balanced cross-entropy.  Seeded (the initial weights and batch order are drawn on the
    CPU); the caller's torch random state is left alone.  ``device``: :func:`emolib.core.devices.resolve`."""

    def fit_proba(X_train, y_train, groups, X_test):
        dev = devices.resolve(device)
        labels = {c: i for i, c in enumerate(CLASSES)}
        y = torch.tensor([labels[v] for v in y_train])
        weight = class_weights(y).to(dev)
        y, X = y.to(dev), torch.as_tensor(np.asarray(X_train), dtype=torch.float32).to(dev)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            head = nn.Sequential(nn.BatchNorm1d(X.shape[1], affine=False), nn.Linear(X.shape[1], len(CLASSES)))
            nn.init.trunc_normal_(head[1].weight, std=0.01)
            nn.init.zeros_(head[1].bias)
            head.to(dev)
            opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            steps = cfg.epochs * math.ceil(len(X) / cfg.batch_size)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
            head.train()
            for _ in range(cfg.epochs):
                perm = torch.randperm(len(X)).to(dev)
                for i in range(0, len(X), cfg.batch_size):
                    b = perm[i:i + cfg.batch_size]
                    if len(b) < 2:
                        continue
                    loss = F.cross_entropy(head(X[b]), y[b], weight=weight)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
        head.eval()
        with torch.no_grad():
            logits = head(torch.as_tensor(np.asarray(X_test), dtype=torch.float32).to(dev))
        return torch.softmax(logits.double(), dim=1).cpu().numpy()

    def fit_predict(X_train, y_train, X_test, groups=None):
        return np.array(CLASSES)[fit_proba(X_train, y_train, groups, X_test).argmax(axis=1)]

    fit_predict.proba = fit_proba  # the class probabilities, for calibrated rows (probe_cv)
    fit_predict.settings = {"kind": "torch_head", **asdict(cfg)}  # what a results row records
    fit_predict.device = devices.name(devices.resolve(device))
    return fit_predict


def probe_cv(meta: pd.DataFrame, embeddings: dict[int, np.ndarray], fit_predict: Callable,
             speaker_norm: bool = False, folds: Sequence[int] | None = None,
             protocol: str = "si5", calibrate: bool = False) -> pd.DataFrame:
    """Out-of-fold predictions (``evaluation.PREDICTION_COLUMNS``) of a probe: fold k is
    probed on fold k's embeddings, fitted on its training speakers, predicted on its test
    speakers (all five folds, or ``folds``).  ``speaker_norm`` standardises each speaker's
    embeddings with that speaker's own (unlabelled) statistics first (docs/protocol.md: reported as
    its own row).  ``protocol``: the folds the encoders were pretrained on (``emobox`` for
    encoders of ``pretrain --protocol emobox``).  A probe with class probabilities (``fit_predict.proba``)
    adds them (``p_<emotion>``); with ``calibrate``, each fold's temperature is fitted inside its training
    speakers too (:func:`emolib.evaluation.calibration.calibrated_cv`), in ``pred.attrs["temperatures"]``."""
    speakers = meta.speaker.astype(str).to_numpy()
    X = {k: speaker_standardize(v, speakers) if speaker_norm else v for k, v in embeddings.items()}
    wanted = range(N_FOLDS) if folds is None else folds
    missing = [k for k in wanted if k not in X]
    if missing:
        raise EmolibError(f"no embeddings for {PROTOCOL_NAMES[protocol]} folds {missing}; embed every fold's encoder")
    if getattr(fit_predict, "proba", None) is None:
        return cross_validate(fit_predict, X, meta, protocol=protocol, groups=speakers, folds=folds)
    pred, temperatures = calibrated_cv(fit_predict.proba, X, meta, protocol, calibrate=calibrate, folds=folds)
    pred.attrs["temperatures"] = temperatures
    return pred


def neighbour_scores(X: np.ndarray, meta: pd.DataFrame, k: int = 5, seed: int = 0) -> dict:
    """What an embedding space holds, by ``k``-NN over all utterances (standardised features,
    5-fold cross-validation stratified by the target): speaker accuracy (chance 1/10), emotion
    accuracy and emotion UAR (chance 1/7).  A diagnostic of the space, not an SI-5 result."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    from .metrics import uar

    Z = StandardScaler().fit_transform(X)
    out = {}
    for target in ("speaker", "emotion"):
        y = meta[target].astype(str).to_numpy()
        pred = cross_val_predict(KNeighborsClassifier(k), Z, y, cv=StratifiedKFold(5, shuffle=True, random_state=seed))
        out[f"{target}_acc"] = float((pred == y).mean())
        if target == "emotion":
            out["emotion_uar"] = uar(y, pred)
    return out


def probe_rows(meta: pd.DataFrame, run: str, embeddings: dict[int, np.ndarray], fit_predict: Callable, *,
               method: str, encoder: dict, readout: dict, protocol: str = "si5", speaker_input: bool = False,
               profile: str | None = None, corpus: str | None = None, settings: dict | None = None,
               measured: dict | None = None) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Probe ``embeddings`` (``{fold: vectors}``) with ``fit_predict`` over the folds, without and
    with speaker normalisation, and write the rows ``<run>`` and ``<run>_spknorm`` (with
    ``_<protocol>`` after them off SI-5, so they never replace an SI-5 row: :mod:`emolib.evaluation.runs`).

    Each row's ``config`` records how it was made: ``encoder`` (what the embeddings come from: an
    :func:`emolib.ssl.encoders.encoder_summary`, or a random initialisation), ``readout``, the probe's
    settings (``fit_predict.settings``, as :func:`logreg_probe` and :func:`torch_probe` set them), its
    seed and ``settings``; ``measured`` goes beside the scores; the row's device is the probe's
    (``fit_predict.device``), and ``write_result`` adds commit and tree state.  ``speaker_input``: the encoder standardised each speaker with its own statistics, so
    both rows are speaker-normalised.  Returns the two rows and their predictions by run name."""
    probe = getattr(fit_predict, "settings", {"kind": getattr(fit_predict, "__qualname__", "custom")})
    rows, preds = [], {}
    for norm in (False, True):
        with Timer() as t:
            pred = probe_cv(meta, embeddings, fit_predict, speaker_norm=norm, protocol=protocol, calibrate=True)
        calibration = {"calibration": summary(pred, pred.attrs["temperatures"])} if "temperatures" in pred.attrs else {}
        name = twin(run, speaker_norm=norm, protocol=protocol)
        rows.append(write_result(name, pred, method=method, protocol=PROTOCOL_NAMES[protocol],
                                 profile=env.level(profile), corpus=env.corpus_name(corpus),
                                 speaker_norm=norm or speaker_input, wall_s=t.seconds,
                                 device=getattr(fit_predict, "device", None),
                                 config={"encoder": encoder, "readout": readout, "probe": probe,
                                         "seed": probe.get("seed"), **(settings or {})}, **(measured or {}),
                                 **calibration))
        preds[name] = pred
    return rows, preds


def probe_checkpoints(meta: pd.DataFrame, out: str | os.PathLike | Sequence[str | os.PathLike], run: str, *,
                      epoch: int | None = None, pool: str = "cls", blocks: int = 1, stats: bool = False,
                      fit_predict: Callable | None = None,
                      profile: str | None = None, corpus: str | None = None, progress: bool = True,
                      settings: dict | None = None, measured: dict | None = None) -> list[dict]:
    """Probe the five fold encoders in ``out`` (logistic regression unless ``fit_predict``) and
    write the rows ``<run>`` and ``<run>_spknorm`` (:func:`probe_rows`; ``python -m emolib probe``).
    The method names the pretraining budget, its pretext options and the device it ran on; the
    probe runs on the folds the encoders were pretrained on (SI-5, or EmoBox's for encoders of
    ``pretrain --protocol emobox``, whose rows end in ``_emobox``).  An encoder pretrained on
    per-speaker input statistics makes both rows speaker-normalised.

    Several folders (``out`` a list, e.g. two pretraining seeds of one recipe): each fold's
    embeddings of every folder side by side, one probe on them; the row's ``encoder`` keeps what
    the folders share and lists each one under ``members``.  ``stats``: the statistics read-out (mean,
    standard deviation and maximum of the read-out over half-overlapping windows, :func:`emolib.models.vit.embed`)."""
    folders = [out] if isinstance(out, (str, os.PathLike)) else list(out)
    if not folders:
        raise EmolibError("probe: name at least one encoders folder (--out)")
    encs = [encoder_summary(f, epoch) for f in folders]  # missing or mismatched encoders: one line, before any work
    if len({e["protocol"] for e in encs}) > 1:
        raise EmolibError(f"{', '.join(map(str, folders))}: encoders of different protocols' folds cannot be "
                          "probed together; give folders of one --protocol")
    enc = encs[0] if len(encs) == 1 else {**{k: v for k, v in encs[0].items() if k not in ("sha256", "pretrain")
                                             and all(e.get(k) == v for e in encs)}, "members": encs}
    embs = [fold_embeddings(meta, f, epoch, pool=pool, blocks=blocks, progress=progress, stats=stats) for f in folders]
    emb = {k: np.concatenate([e[k] for e in embs], axis=1) for k in embs[0]}
    readout = (pool if blocks == 1 else f"{pool} of the last {blocks} blocks") + (
        ", mean/std/max over half-overlapping windows" if stats else "")
    who = describe_encoders(encs)
    where = [env.repo_relative(f) for f in folders]
    rows, _ = probe_rows(meta, run, emb, fit_predict or logreg_probe(budget(profile)["logreg_C"]),
                         method=f"{who}, {readout}, linear probe", encoder=enc,
                         readout={"pool": pool, "blocks": blocks, **({"stats": True} if stats else {})},
                         protocol=encs[0]["protocol"], speaker_input=any(speaker_input(e) for e in encs),
                         profile=profile, corpus=corpus, measured=measured,
                         settings={"encoders": where[0] if len(where) == 1 else where, **(settings or {})})
    return rows

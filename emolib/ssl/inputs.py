"""What one fold's MoCo pretraining reads, and the monitor it reports.

:func:`fold_data` gathers a fold's log-mels (training and held-out speakers), the statistics of its
training speakers (or each speaker's own, with ``input_norm="speaker"``) and the two-view transform
(:mod:`emolib.augmentation.views`) over its training utterances; :func:`knn_monitor` classifies the held-out
speakers' utterances by their nearest training utterances — a monitor of the representation only.
``cfg`` is a :class:`emolib.ssl.pretrain_config.PretrainConfig` (read here, never built).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..augmentation.spectrogram import MelBank
from ..augmentation.views import TwoViews, recipe
from ..augmentation.report import report_variants
from ..core.errors import EmolibError
from ..data.emodb import CLASSES
from ..data.features import fit_standardizer, log_mels
from ..data.splits import PROTOCOL_NAMES, Fold, folds
from ..models.vit import Normalization, embed
from . import standardize
from .encoders import ALL_SPEAKERS


@dataclass
class FoldData:
    train_mels: list
    test_mels: list
    y_train: np.ndarray
    y_test: np.ndarray
    normalization: Normalization
    views: TwoViews = field(repr=False)
    train_speakers: np.ndarray = None
    train_genders: np.ndarray = None
    input_norm: str = "global"  # shortcut.INPUT_NORM: how the encoder's inputs are normalised
    test_speakers: np.ndarray = None
    targets: np.ndarray | None = None  # signal-derived targets of the training utterances (functional_targets)
    frame_targets: MelBank | None = field(default=None, repr=False)  # their frame descriptors (frame_targets)

    def frame_batch(self, idx, generator=None) -> tuple:
        """For the frame-descriptor targets: a clean time crop of each training utterance ``idx`` (standardised as
        the views are, ``(B, 1, bands, frames)``) and its descriptors over the same frames ``(B, n, frames)``, at
        one random start per utterance drawn from ``generator``."""
        import torch

        idx = torch.as_tensor(idx).cpu()
        crop = self.views.crop
        starts = crop.starts(self.views.clean.lengths[idx], generator)
        x = self.views.normalize(crop(self.views.clean, idx, starts=starts), idx)[:, None]
        return x, crop(self.frame_targets, idx, starts=starts)

    @functools.cached_property
    def monitor_inputs(self) -> tuple[list, list, np.ndarray, np.ndarray]:
        """The training and held-out log-mels as the encoder sees them, with the statistics
        :func:`emolib.models.vit.embed` should apply (identity where they are standardised already);
        computed once per fold."""
        mean, std = np.array(self.normalization.mean), np.array(self.normalization.std)
        train, mean_, std_ = standardize.encoder_inputs(self.train_mels, self.train_speakers, self.input_norm, mean, std)
        test, _, _ = standardize.encoder_inputs(self.test_mels, self.test_speakers, self.input_norm, mean, std)
        return train, test, mean_, std_


def functional_targets(meta: pd.DataFrame, progress: bool = False) -> np.ndarray:
    """Each utterance's 88 eGeMAPS functionals (computed from its own audio; cached), standardised within its
    speaker: ``(n, 88)`` float32.  Pretraining passes only its training utterances, so a fold's targets and
    their statistics come from its training speakers' audio alone; no emotion label is read."""
    from ..data.opensmile import functionals

    X = functionals(meta, "eGeMAPSv02", progress=progress)
    out = np.zeros_like(X)
    speakers = meta.speaker.astype(str).to_numpy()
    for s in np.unique(speakers):
        rows = speakers == s
        sd = X[rows].std(axis=0)
        out[rows] = (X[rows] - X[rows].mean(axis=0)) / np.where(sd > 1e-8, sd, 1.0)
    return out.astype(np.float32)


#: How many 10-ms frames openSMILE's descriptors start after the log-mel's centred frames (its 20-60 ms windows
#: begin at the file's start, a centred log-mel frame is centred on its time): the descriptors are moved by this
#: many frames, and the ends repeated, to lie over the log-mel's frames.
DESCRIPTOR_LAG = 2


def frame_targets(meta: pd.DataFrame, lengths, progress: bool = False) -> list[np.ndarray]:
    """Each utterance's openSMILE eGeMAPS low-level descriptors (25 per 10-ms frame — loudness, F0 in semitones with
    0 where unvoiced, jitter, shimmer, HNR, spectral slopes, MFCC 1-4, formants; cached), laid over its log-mel's
    ``lengths`` frames (:data:`DESCRIPTOR_LAG`) and standardised within its speaker over that speaker's frames:
    ``(25, frames)`` float32 each.  Pretraining passes only its training utterances, so a fold's targets and their
    statistics come from its training speakers' audio alone; no emotion label is read."""
    from ..data.opensmile import descriptors

    raw = descriptors(meta, progress=progress)
    laid = []
    for d, n in zip(raw, lengths):
        d = np.pad(d, ((0, 0), (DESCRIPTOR_LAG, max(0, n - d.shape[1] - DESCRIPTOR_LAG))), mode="edge")[:, :n]
        laid.append(d.astype(np.float64))
    speakers = meta.speaker.astype(str).to_numpy()
    out: list = [None] * len(laid)
    for s in np.unique(speakers):
        rows = np.flatnonzero(speakers == s)
        frames = np.concatenate([laid[i] for i in rows], axis=1)
        mean, sd = frames.mean(axis=1, keepdims=True), frames.std(axis=1, keepdims=True)
        for i in rows:
            out[i] = ((laid[i] - mean) / np.where(sd > 1e-8, sd, 1.0)).astype(np.float32)
    return out


def fold_data(meta: pd.DataFrame, fold: int, cfg, progress: bool = True) -> FoldData:
    """Log-mels of the fold's training and test utterances (of ``cfg.protocol``), statistics from
    the training utterances only, and the two-view transform over the training utterances.
    ``fold=ALL_SPEAKERS``: every utterance trains and none is held out."""
    parts = folds(meta, cfg.protocol)
    if fold == ALL_SPEAKERS:
        f = Fold("all", ALL_SPEAKERS, (), np.arange(len(meta)), np.array([], dtype=int))
    elif not 0 <= fold < len(parts):
        raise EmolibError(f"--fold {fold}: {PROTOCOL_NAMES[cfg.protocol]} folds are 0–{len(parts) - 1} (or 'all')")
    else:
        f = parts[fold]
    mels = log_mels(meta.path, progress=progress)
    mels = standardize.per_file(mels, cfg.input_norm)  # "utterance", "shape": before the fold's statistics
    std = fit_standardizer(mels, f)
    train = [mels[i] for i in f.train]
    rec = recipe(cfg.aug, crop_frames=cfg.frames, warp=cfg.warp, formant=cfg.formant, pitch=cfg.pitch,
                 warp_views=cfg.warp_views)
    variants = (report_variants(list(meta.path.iloc[f.train]), cfg.variants, progress=progress)
                if rec.waveform else None)
    if variants and cfg.input_norm in standardize.PER_FILE:  # each augmented copy on its own
        variants = {v: [standardize.per_file(per, cfg.input_norm) for per in copies] for v, copies in variants.items()}
    labels = meta.emotion.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    speakers = meta.speaker.astype(str).to_numpy()
    stats, groups = std, None
    if cfg.input_norm == "speaker":  # each training speaker's own statistics, from its own audio
        stats, groups = standardize.speaker_standardizers(train, speakers[f.train])
    return FoldData(train, [mels[i] for i in f.test], labels[f.train], labels[f.test],
                    Normalization(std.mean.tolist(), std.std.tolist()),
                    TwoViews(train, stats, rec, variants=variants, groups=groups),
                    train_speakers=speakers[f.train], train_genders=meta.gender.astype(str).to_numpy()[f.train],
                    input_norm=cfg.input_norm, test_speakers=speakers[f.test],
                    targets=(functional_targets(meta.iloc[f.train], progress)
                             if getattr(cfg, "targets", "none") in ("functionals", "both") else None),
                    frame_targets=(MelBank(frame_targets(meta.iloc[f.train], [m.shape[1] for m in train], progress))
                                   if getattr(cfg, "targets", "none") in ("frames", "both") else None))


def knn_monitor(backbone, data: FoldData, cfg, device) -> dict:
    """k-NN (cosine, distance-weighted) emotion classification of the held-out speakers'
    utterances from the training speakers' — a monitor of the representation only."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.neighbors import KNeighborsClassifier

    train_mels, test_mels, mean, std = data.monitor_inputs
    train = embed(backbone, train_mels, mean, std, cfg.frames, device=device)
    test = embed(backbone, test_mels, mean, std, cfg.frames, device=device)
    knn = KNeighborsClassifier(n_neighbors=min(cfg.knn_k, len(train)), metric="cosine", weights="distance")
    pred = knn.fit(train, data.y_train).predict(test)
    return {"knn_acc": float((pred == data.y_test).mean()),
            "knn_uar": float(balanced_accuracy_score(data.y_test, pred))}

"""Pretext-task options that deny MoCo the speaker shortcut (flags of ``python -m emolib pretrain``).

Two views of one utterance share the speaker's voice, while in-batch negatives from other
speakers differ from it in voice: instance discrimination can be solved by *who is speaking*
(notebook 04 measures it: 5-NN on the embeddings finds the speaker more often than the emotion).
Each option below takes that cue away in one way; ``emolib.ablation`` compares them.

- ``batch_by`` (:func:`epoch_batches`): ``"none"`` mixes all training speakers in a batch (as
  before); ``"speaker"`` fills each batch with one training speaker's utterances, ``"gender"`` with
  those of one gender's training speakers, so the negatives share the voice (or its broad class)
  and only what differs between one person's utterances — sentence and emotion — separates them.
- ``input_norm`` (:func:`speaker_standardizers`): ``"global"`` standardises every log-mel with the
  fold's training statistics; ``"speaker"`` with its own speaker's statistics (that speaker's
  unlabelled audio only; for a held-out speaker at embedding time too, so such probes are
  speaker-normalised rows); ``"utterance"`` first removes each log-mel's own mean per band over
  its frames (:func:`centre_utterances`: that file's long-term spectrum, which holds the voice's
  timbre, and its level; no other file's statistics), then standardises with the fold's training
  statistics of the centred log-mels, so its probes stay raw rows.  The milder cousin of the
  per-utterance *standardisation* that stalled learning in an outside experiment: the spread of
  each band over time, which carries the prosody, is kept.  ``"shape"`` is milder still
  (:func:`flatten_utterances`): it removes only what of that long-term spectrum a straight line
  over the bands does not explain, so each file keeps its level and spectral tilt (both carry
  arousal) and loses the finer shape of its long-term spectrum (the voice's formant pattern).
- ``adversary`` (:class:`SpeakerAdversary`): a head that predicts the *training speaker* from the
  backbone's output through a gradient reversal, so the backbone is pushed to forget the speaker.
  It never sees an emotion label.
- The view options live in :mod:`emolib.views` and :mod:`emolib.augment`: ``warp`` (formants and
  harmonics moved together, :class:`emolib.augment.MelWarp`), ``formant`` and ``pitch`` (moved
  apart, :class:`emolib.augment.SourceFilterWarp`), each on both views or on view 2 only
  (``warp_views``), and time crops of the clean log-mel (``aug="crop"``).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .features import Standardizer

#: The pretext options, as fields of ``emolib.pretrain_config.PretrainConfig`` (whose defaults are the recipe's).
OPTIONS = ("batch_by", "input_norm", "warp", "formant", "pitch", "warp_views", "adversary")
#: Their defaults: the report's recipe (mixed batches, corpus-wide statistics, no warp, no
#: adversary); ``PretrainConfig``'s fields default to these.
DEFAULTS = {"batch_by": "none", "input_norm": "global", "warp": 0.0, "formant": 0.0, "pitch": 0.0,
            "warp_views": "both", "adversary": 0.0}
#: Named sets of pretext options (the ablation's variants, :mod:`emolib.ablation`), each the change from
#: the report's recipe (:data:`DEFAULTS`; ``aug`` picks the views).  Flags of ``python -m emolib pretrain``
#: of the same names; ``--variant NAME`` takes a whole set.  :data:`emolib.settings.DEFAULT_PRETEXT`
#: names the one notebook 03 pretrains.
VARIANTS: dict[str, dict] = {
    "report": {},                                             # the report's recipe
    "crop": dict(aug="crop"),                                 # time crops of the clean log-mel only
    "speaker_batches": dict(batch_by="speaker"),
    "gender_batches": dict(batch_by="gender"),
    "warp": dict(warp=0.15),                                  # each view its own warp
    "warp_one_view": dict(warp=0.15, warp_views="one"),
    "speaker_input": dict(input_norm="speaker"),
    "adversary": dict(adversary=0.3),
    "adversary_strong": dict(adversary=1.0),
    "warp_speaker_batches": dict(warp=0.15, batch_by="speaker"),
    "warp_speaker_input": dict(warp=0.15, input_norm="speaker"),
    "warp_speaker_input_batches": dict(warp=0.15, input_norm="speaker", batch_by="speaker"),
    "warp_adversary": dict(warp=0.15, adversary=0.3),
    "formant": dict(formant=0.15),                            # the envelope alone: pitch kept
    "pitch": dict(pitch=0.15),                                # the harmonics alone: formants kept
    "formant_pitch": dict(formant=0.15, pitch=0.15),          # both, each with its own factor
    "formant_pitch_speaker_input": dict(formant=0.15, pitch=0.15, input_norm="speaker"),
    "utterance_mean": dict(input_norm="utterance"),           # each file centred on itself: raw rows
    "warp_utterance_mean": dict(warp=0.15, input_norm="utterance"),
    "utterance_shape": dict(input_norm="shape"),              # level and tilt kept: raw rows
}



def variant_of(options: dict, aug: str = "report") -> str | None:
    """The name in :data:`VARIANTS` of a set of pretext options (an encoder's, as
    :func:`emolib.encoders.encoder_summary` gives them) and views, or None when no variant has them."""
    have = {**{k: options.get(k, d) for k, d in DEFAULTS.items()}, "aug": options.get("aug", aug)}
    for name, changes in VARIANTS.items():
        if have == {**DEFAULTS, "aug": "report", **changes}:
            return name
    return None


def run_prefix(options: dict, aug: str = "report") -> str:
    """What notebook 04's rows of an encoder are called: ``moco_…`` for the report's recipe (``moco_probe_logreg``),
    ``moco_<variant>_…`` for a variant (``moco_warp_speaker_input_probe_logreg``), ``moco_custom_…`` otherwise."""
    name = variant_of(options, aug)
    return "moco" if name == "report" else f"moco_{name or 'custom'}"


BATCH_BY = ("none", "speaker", "gender")
INPUT_NORM = ("global", "speaker", "utterance", "shape")


def epoch_batches(n: int, batch_size: int, generator: torch.Generator,
                  groups: Sequence | None = None) -> list[torch.Tensor]:
    """One epoch's batches of utterance indices ``0..n-1``.

    Without ``groups``: a random permutation cut into ``max(1, n // batch_size)`` batches of
    ``batch_size`` (the remainder is left out, a different one each epoch).  With ``groups``
    (one label per utterance: its speaker, or its gender): each group's utterances in random
    order, cut into ``ceil(size / batch_size)`` batches of nearly equal size, so every
    utterance appears exactly once and no batch mixes groups; the batches in random order."""
    if groups is None:
        perm = torch.randperm(n, generator=generator)
        return [perm[i * batch_size:(i + 1) * batch_size] for i in range(max(1, n // batch_size))]
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ValueError(f"epoch_batches: {len(groups)} group labels for {n} utterances")
    batches: list[torch.Tensor] = []
    for g in sorted(set(groups.tolist())):
        members = torch.from_numpy(np.flatnonzero(groups == g))
        members = members[torch.randperm(len(members), generator=generator)]
        batches += list(torch.tensor_split(members, math.ceil(len(members) / batch_size)))
    order = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in order]


def batch_groups(batch_by: str, speakers: Sequence[str], genders: Sequence[str]) -> np.ndarray | None:
    """The group label of each utterance for ``batch_by`` (None for mixed batches)."""
    if batch_by not in BATCH_BY:
        raise ValueError(f"batch_by must be one of {', '.join(BATCH_BY)}, got {batch_by!r}")
    return None if batch_by == "none" else np.asarray(speakers if batch_by == "speaker" else genders)


def speaker_standardizers(mels: Sequence[np.ndarray], speakers: Sequence[str]) -> tuple[list[Standardizer], np.ndarray]:
    """Per-speaker log-mel statistics: ``(standardizers, group)`` with one standardizer per
    distinct speaker (fitted on that speaker's utterances only) and each utterance's index into
    it — the arguments of :class:`emolib.augment.Normalize`."""
    speakers = np.asarray(speakers)
    names = sorted(set(speakers.tolist()))
    stats = [Standardizer.fit([m for m, s in zip(mels, speakers) if s == name]) for name in names]
    return stats, np.array([names.index(s) for s in speakers])


def standardize_by_speaker(mels: Sequence[np.ndarray], speakers: Sequence[str]) -> list[np.ndarray]:
    """Each log-mel standardised with its own speaker's statistics (:func:`speaker_standardizers`)."""
    stats, group = speaker_standardizers(mels, speakers)
    return [stats[g](m) for m, g in zip(mels, group)]


def centre_utterances(mels: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each log-mel ``(bands, frames)`` minus its own mean over frames, band by band (cepstral mean
    normalisation on the mel scale): each output depends on its own file only."""
    return [(m - m.mean(axis=1, keepdims=True)).astype(m.dtype, copy=False) for m in mels]


def flatten_utterances(mels: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each log-mel ``(bands, frames)`` minus the part of its own long-term spectrum (mean over
    frames, band by band) that a least-squares straight line over the bands leaves unexplained:
    the file's level and spectral tilt stay, the finer shape of its long-term spectrum goes.
    Each output depends on its own file only; applying it twice changes nothing."""
    out = []
    for m in mels:
        ltas = m.mean(axis=1, dtype=np.float64)
        bands = np.arange(len(ltas), dtype=np.float64)
        line = np.polyval(np.polyfit(bands, ltas, 1), bands)  # numpy's least-squares line
        out.append((m - (ltas - line)[:, None]).astype(m.dtype, copy=False))
    return out


#: The per-file input normalisations: each log-mel changed using that file alone, before the fold's statistics.
PER_FILE = {"utterance": centre_utterances, "shape": flatten_utterances}


def per_file(mels: Sequence[np.ndarray], input_norm: str) -> list[np.ndarray]:
    """The log-mels after ``input_norm``'s per-file step (:data:`PER_FILE`; unchanged for the others)."""
    return PER_FILE[input_norm](mels) if input_norm in PER_FILE else list(mels)


def encoder_inputs(mels: Sequence[np.ndarray], speakers: Sequence[str], input_norm: str,
                   mean: np.ndarray, std: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The log-mels as an encoder pretrained with ``input_norm`` sees them, and the statistics
    :func:`emolib.vit.embed` should then apply (``mean``/``std``: the encoder's saved training
    statistics).  ``"speaker"``: each speaker with its own audio's statistics (identity after);
    ``"utterance"``/``"shape"``: each file's own step (:func:`per_file`), then the saved statistics;
    ``"global"``: as given."""
    if input_norm not in INPUT_NORM:
        raise ValueError(f"input_norm must be one of {', '.join(INPUT_NORM)}, got {input_norm!r}")
    if input_norm == "speaker":
        return standardize_by_speaker(mels, speakers), np.zeros_like(mean), np.ones_like(std)
    return per_file(mels, input_norm), mean, std


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient multiplied by ``-scale`` backward (Ganin & Lempitsky, 2015)."""

    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


class SpeakerAdversary(nn.Module):
    """A two-layer head predicting the training speaker from backbone features, behind a
    gradient reversal: the head learns to find the speaker, the backbone (through the reversal,
    weighted by ``scale``) to hide it.  Returns the head's cross-entropy and its accuracy."""

    def __init__(self, width: int, n_speakers: int, hidden: int = 256):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_speakers))

    def forward(self, features: torch.Tensor, speakers: torch.Tensor,
                scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(GradientReversal.apply(features.float(), scale))
        return F.cross_entropy(logits, speakers), (logits.argmax(1) == speakers).float().mean()


def adversary_scale(weight: float, progress: float) -> float:
    """DANN's ramp ``weight · (2 / (1 + e^(-10 p)) - 1)`` over training progress ``p`` in [0, 1]:
    the reversal starts at 0 while the features are still random."""
    return weight * (2 / (1 + math.exp(-10 * min(max(progress, 0.0), 1.0))) - 1)

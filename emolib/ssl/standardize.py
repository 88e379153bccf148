"""How an encoder's log-mels are standardised (``input_norm``, :mod:`emolib.ssl.shortcut`): with the
fold's training statistics (``global``, the report's recipe), with each speaker's own statistics
(``speaker``: that speaker's unlabelled audio only, held-out speakers included, so such encoders give
speaker-normalised rows), or after a per-file step that uses that file alone (``utterance``: each band
centred on the file's own mean; ``shape``: only what a straight line over the bands leaves of the file's
long-term spectrum).  :func:`encoder_inputs` is the one function that turns log-mels into what an
encoder saw, for pretraining and for everything that embeds with it afterwards."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.features import Standardizer
from .shortcut import INPUT_NORM


def speaker_standardizers(mels: Sequence[np.ndarray], speakers: Sequence[str]) -> tuple[list[Standardizer], np.ndarray]:
    """Per-speaker log-mel statistics: ``(standardizers, group)`` with one standardizer per
    distinct speaker (fitted on that speaker's utterances only) and each utterance's index into
    it — the arguments of :class:`emolib.augmentation.spectrogram.Normalize`."""
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
    :func:`emolib.models.vit.embed` should then apply (``mean``/``std``: the encoder's saved training
    statistics).  ``"speaker"``: each speaker with its own audio's statistics (identity after);
    ``"utterance"``/``"shape"``: each file's own step (:func:`per_file`), then the saved statistics;
    ``"global"``: as given."""
    if input_norm not in INPUT_NORM:
        raise ValueError(f"input_norm must be one of {', '.join(INPUT_NORM)}, got {input_norm!r}")
    if input_norm == "speaker":
        return standardize_by_speaker(mels, speakers), np.zeros_like(mean), np.ones_like(std)
    return per_file(mels, input_norm), mean, std

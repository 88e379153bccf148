"""The report's 173 hand-crafted descriptors, a front-end for the feature cache, and their means
over segments.

Per frame (2048-point FFT, 16 ms hop): 20 MFCC, 128 log-mel bands (dB), 12 chroma (STFT), 7
spectral-contrast bands and 6 tonnetz values (from the harmonic part); a segment's vector is the mean
of its frames, 20 + 128 + 12 + 7 + 6 = 173 values.  The report computed them on each cut-out segment;
we compute the frames once per utterance (cached, :func:`emolib.data.features.extract`) and average
them per segment (:func:`segment_means`), which differs only at segment edges and makes the segment
study (:mod:`emolib.studies.segments`) affordable on a laptop CPU.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .features import extract, frontend_key


@dataclass(frozen=True)
class ReportDescriptors:
    """The report's 173 descriptors per frame: a front-end for :mod:`emolib.data.features`."""

    sample_rate: int = 16_000
    n_fft: int = 2048
    hop_length: int = 256
    n_mfcc: int = 20
    n_mels: int = 128

    @property
    def n_rows(self) -> int:
        return self.n_mfcc + self.n_mels + 12 + 7 + 6

    def key(self) -> str:
        return frontend_key(self)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        import librosa

        sr, hop = self.sample_rate, self.hop_length
        mag = np.abs(librosa.stft(y, n_fft=self.n_fft, hop_length=hop))
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=mag ** 2, sr=sr,
                                                                    n_mels=self.n_mels))
        with warnings.catch_warnings():  # CQT octaves of short utterances: harmless notices
            warnings.simplefilter("ignore", UserWarning)
            tonnetz = librosa.feature.tonnetz(y=librosa.effects.harmonic(y), sr=sr, hop_length=hop)
        rows = [librosa.feature.mfcc(S=mel_db, n_mfcc=self.n_mfcc), mel_db,
                librosa.feature.chroma_stft(S=mag, sr=sr),
                librosa.feature.spectral_contrast(S=mag, sr=sr), tonnetz]
        frames = min(r.shape[1] for r in rows)
        return np.concatenate([r[:, :frames] for r in rows]).astype(np.float32)

    def frames(self, seg_ms: int) -> int:
        return max(1, round(seg_ms / 1000 * self.sample_rate / self.hop_length))


def descriptors(meta: pd.DataFrame, progress: bool = True) -> list[np.ndarray]:
    """Frame-level descriptors (173 x frames) of every utterance, cached on disk."""
    return extract(meta.path, ReportDescriptors(), progress=progress)


def segment_means(frames: list[np.ndarray], seg_ms: int | None,
                  frontend: ReportDescriptors = ReportDescriptors(),
                  hop_ms: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut each utterance into segments of ``seg_ms`` starting every ``hop_ms`` (default
    ``seg_ms``: non-overlapping; e.g. ``seg_ms // 2`` for 50 % overlap), drop the tail shorter
    than a segment (an utterance shorter than one segment is one segment) and average the
    frames of each.  Returns (X: segments x 173, utterance index of each segment)."""
    if hop_ms is not None and (seg_ms is None or not 0 < hop_ms <= seg_ms):
        raise ValueError(f"hop_ms must lie in 1..seg_ms ({seg_ms}) for segments of a fixed "
                         f"length, got {hop_ms}; leave it None for non-overlapping segments")
    seg = None if seg_ms is None else frontend.frames(seg_ms)
    step = None if hop_ms is None else frontend.frames(hop_ms)
    xs, owner = [], []
    for i, f in enumerate(frames):
        k = f.shape[1] if seg is None else min(seg, f.shape[1])
        hop = k if step is None or k < seg else step
        if hop == k:
            n = f.shape[1] // k
            xs.append(f[:, : n * k].reshape(f.shape[0], n, k).mean(axis=2).T)
        else:  # overlapping windows, every hop frames
            windows = np.lib.stride_tricks.sliding_window_view(f, k, axis=1)[:, ::hop]
            n = windows.shape[1]
            xs.append(windows.mean(axis=2).T)
        owner.append(np.full(n, i))
    return np.concatenate(xs).astype(np.float32), np.concatenate(owner)

"""The report's waveform augmentations, done right (docs/design.md), and their cached log-mel variants.

Each is a small function taking a ``numpy.random.Generator`` (never the global RNG):

- :func:`add_noise`   Gaussian noise of amplitude ``level · U(0,1) · max(x)`` (level 0.01);
- :func:`time_stretch` phase-vocoder time stretch (librosa) at ``rate`` 0.8: 1.25× longer;
- :func:`shift`       circular shift by ``U(-5, 5) · 1000`` samples (:func:`roll` for a fixed one);
- :func:`pitch_shift` pitch shift by +0.7 semitone (librosa).

:class:`ReportRecipe` composes them into the report's two views (view 1 = noise then stretch,
view 2 = shift then pitch).  The phase vocoder is slow, so training never runs it on the fly:
:func:`report_variants` precomputes ``k`` variants of each view per utterance, as log-mels, once,
through the feature cache (:class:`~emolib.data.features.FeatureCache`: keyed by file content and
every parameter, checksummed, written atomically), with a progress bar.  :mod:`emolib.augmentation.views`
turns them into MoCo's views.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.audio import load_audio
from ..data.features import FeatureCache, LogMelConfig, frontend_key, log_mel

SR = 16_000


def add_noise(y: np.ndarray, rng: np.random.Generator, level: float = 0.01) -> np.ndarray:
    """``y + level · U(0,1) · max(y) · N(0, 1)`` per sample, as in the report."""
    y = np.asarray(y, dtype=np.float32)
    if level == 0:
        return y.copy()
    amplitude = level * rng.uniform() * float(np.max(y))
    return (y + amplitude * rng.standard_normal(len(y))).astype(np.float32)


def time_stretch(y: np.ndarray, rate: float = 0.8) -> np.ndarray:
    """Phase-vocoder time stretch: the result lasts ``1 / rate`` times as long (rate 0.8: 1.25×)."""
    import librosa

    if rate <= 0:
        raise ValueError(f"time_stretch: rate must be positive, got {rate}")
    y = np.asarray(y, dtype=np.float32)
    if rate == 1:
        return y.copy()
    return librosa.effects.time_stretch(y, rate=rate).astype(np.float32)


def roll(y: np.ndarray, samples: int) -> np.ndarray:
    """Circular shift by ``samples`` (positive: later)."""
    return np.roll(np.asarray(y, dtype=np.float32), int(samples))


def shift(y: np.ndarray, rng: np.random.Generator, limit: int = 5000) -> np.ndarray:
    """Circular shift by ``int(U(-limit, limit))`` samples: the report's ``U(-5, 5) · 1000``."""
    return roll(y, int(rng.uniform(-limit, limit)) if limit else 0)


def pitch_shift(y: np.ndarray, semitones: float = 0.7, sr: int = SR) -> np.ndarray:
    """Pitch shift by ``semitones`` (librosa: stretch, then resample), same duration."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if semitones == 0:
        return y.copy()
    return librosa.effects.pitch_shift(y, sr=sr, n_steps=semitones).astype(np.float32)


@dataclass(frozen=True)
class ReportRecipe:
    """The report's two views: view 1 = noise then stretch, view 2 = shift then pitch."""

    noise_level: float = 0.01
    stretch_rate: float = 0.8
    shift_limit: int = 5000
    semitones: float = 0.7
    sample_rate: int = SR

    def view(self, which: int, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if which == 1:
            return time_stretch(add_noise(y, rng, self.noise_level), self.stretch_rate)
        if which == 2:
            return pitch_shift(shift(y, rng, self.shift_limit), self.semitones, self.sample_rate)
        raise ValueError(f"ReportRecipe.view: which must be 1 or 2, got {which}")


@dataclass(frozen=True)
class ReportVariant:
    """Front-end for the feature cache: variant ``index`` of the report's view ``view``, then
    the log-mel.  Its random numbers are seeded by ``seed``, the view, the index and the audio
    itself, so each utterance gets its own noise and shift, the same every time."""

    view: int
    index: int
    recipe: ReportRecipe = ReportRecipe()
    logmel: LogMelConfig = LogMelConfig()
    seed: int = 0

    @property
    def sample_rate(self) -> int:
        return self.logmel.sample_rate

    @property
    def n_rows(self) -> int:
        return self.logmel.n_mels

    def key(self) -> str:
        return frontend_key(self)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        rng = np.random.default_rng([self.seed, self.view, self.index, zlib.crc32(y.tobytes())])
        return log_mel(self.recipe.view(self.view, y, rng), self.logmel)


def report_variants(paths: Sequence[str | os.PathLike], k: int, recipe: ReportRecipe = ReportRecipe(),
                    cfg: LogMelConfig = LogMelConfig(), seed: int = 0, progress: bool = True,
                    root: str | os.PathLike | None = None) -> dict[int, list[list[np.ndarray]]]:
    """``k`` precomputed variants of each report view for every file, as log-mels:
    ``out[view][i][j]`` is variant ``i`` of view ``view`` (1 or 2) of ``paths[j]``.

    Computed once (each file is decoded once, whatever ``k``) and then read from the feature
    cache; raising ``k`` later computes only the new variants.
    """
    from tqdm.auto import tqdm

    if k < 1:
        raise ValueError(f"report_variants: k must be at least 1, got {k}")
    fronts = [ReportVariant(v, i, recipe, cfg, seed) for v in (1, 2) for i in range(k)]
    caches = [FeatureCache(f, root) for f in fronts]
    arrays: list[list[np.ndarray]] = [[] for _ in fronts]
    try:
        for path in tqdm(paths, desc=f"report views ({2 * k} per file)", unit="file",
                         disable=not progress):
            digest, y = caches[0].digest(path), None
            for cache, out in zip(caches, arrays):
                arr = cache.load(digest)
                if arr is None:
                    if y is None:
                        y = load_audio(path, sr=cfg.sample_rate)
                    arr = cache.frontend(y)
                    cache.save(digest, arr)
                out.append(arr)
    finally:
        caches[0].flush()
    return {v: arrays[(v - 1) * k:v * k] for v in (1, 2)}

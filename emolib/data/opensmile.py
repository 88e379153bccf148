"""openSMILE functionals as a front-end of the feature cache: one vector per utterance.

- **eGeMAPSv02** — the extended Geneva Minimalistic Acoustic Parameter Set (Eyben et al.,
  IEEE Trans. Affective Computing 2016): 88 expert-chosen, interpretable parameters (pitch,
  jitter/shimmer, loudness, spectral slope and balance, formants, MFCC 1-4, rates of voiced
  segments, ...), each summarised by a few statistics over the utterance.
- **ComParE_2016** — the Interspeech Computational Paralinguistics Challenge set (Schuller et al.,
  Interspeech 2016 and earlier ComParE editions): 6373 brute-force functionals of 65 low-level
  descriptors (energy, spectral, MFCC, voicing) and their deltas.

:func:`functionals` goes through :func:`emolib.data.features.extract`, so they are cached on disk by
audio content (atomic, checksummed) under a key that includes the openSMILE version.  The classifiers
built on them are :mod:`emolib.systems.baselines`'.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .features import extract, frontend_key

#: The openSMILE functionals sets offered here, with their short names for run names.
FEATURE_SETS = {"eGeMAPSv02": "egemaps", "ComParE_2016": "compare"}


def check_feature_set(feature_set: str) -> None:
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown openSMILE feature set {feature_set!r}; choose one of "
                         f"{', '.join(FEATURE_SETS)}")


@lru_cache(maxsize=None)
def _smile(feature_set: str, level: str = "Functionals"):
    """One ``opensmile.Smile`` per feature set and level (functionals, or low-level descriptors), built on first use."""
    import opensmile

    check_feature_set(feature_set)
    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                           feature_level=getattr(opensmile.FeatureLevel, level))


@lru_cache(maxsize=None)
def opensmile_version() -> str:
    import opensmile

    return opensmile.__version__


@dataclass(frozen=True)
class OpenSmileFunctionals:
    """Front-end (:class:`emolib.data.features.Frontend`) giving one column of openSMILE
    functionals per utterance: float32 array (n_rows, 1)."""

    feature_set: str
    sample_rate: int = 16_000

    def __post_init__(self):
        check_feature_set(self.feature_set)

    @property
    def n_rows(self) -> int:
        return len(_smile(self.feature_set).feature_names)

    @property
    def feature_names(self) -> list[str]:
        return list(_smile(self.feature_set).feature_names)

    def key(self) -> str:
        """Cache key: the dataclass (via :func:`frontend_key`) and openSMILE's version,
        so an upgrade that changes the features cannot serve stale cached values."""
        blob = f"{frontend_key(self)}:opensmile-{opensmile_version()}"
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __call__(self, y: np.ndarray) -> np.ndarray:
        out = _smile(self.feature_set).process_signal(np.asarray(y, dtype=np.float32),
                                                      self.sample_rate)
        return np.asarray(out.to_numpy(), dtype=np.float32).reshape(-1, 1)


def functionals(meta: pd.DataFrame, feature_set: str, progress: bool = True) -> np.ndarray:
    """openSMILE functionals of every utterance in ``meta`` (cached): float64 array
    (n_utterances, n_features), rows in the order of ``meta``."""
    cols = extract(list(meta.path), OpenSmileFunctionals(feature_set), cache=True,
                   progress=progress)
    if not cols:
        return np.empty((0, OpenSmileFunctionals(feature_set).n_rows))
    return np.stack([c[:, 0] for c in cols]).astype(np.float64)


@dataclass(frozen=True)
class OpenSmileDescriptors:
    """Front-end giving openSMILE's low-level descriptors of a feature set frame by frame (eGeMAPSv02: 25 of them —
    loudness, F0 in semitones with 0 where unvoiced, jitter, shimmer, HNR, spectral slopes and balance, MFCC 1-4,
    formants — every 10 ms): float32 array (n_descriptors, frames)."""

    feature_set: str = "eGeMAPSv02"
    sample_rate: int = 16_000

    def __post_init__(self):
        check_feature_set(self.feature_set)

    @property
    def feature_names(self) -> list[str]:
        return list(_smile(self.feature_set, "LowLevelDescriptors").feature_names)

    @property
    def n_rows(self) -> int:
        return len(self.feature_names)

    def key(self) -> str:
        blob = f"{frontend_key(self)}:opensmile-{opensmile_version()}"
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __call__(self, y: np.ndarray) -> np.ndarray:
        out = _smile(self.feature_set, "LowLevelDescriptors").process_signal(np.asarray(y, dtype=np.float32),
                                                                              self.sample_rate)
        return np.ascontiguousarray(np.asarray(out.to_numpy(), dtype=np.float32).T)


def descriptors(meta: pd.DataFrame, feature_set: str = "eGeMAPSv02", progress: bool = True) -> list[np.ndarray]:
    """openSMILE's low-level descriptors of every utterance in ``meta`` (cached): ``(n_descriptors, frames)`` each,
    10 ms apart, in the order of ``meta``."""
    return extract(list(meta.path), OpenSmileDescriptors(feature_set), cache=True, progress=progress)

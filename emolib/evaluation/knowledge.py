"""What an embedding knows: label-free, interpretable properties of each utterance read back from it
under the protocol's folds, and who is speaking.

Each property is one of openSMILE's eGeMAPS functionals of the utterance's own audio (:data:`PROPERTIES`:
F0 median and range in semitones, loudness mean and range, a speaking-rate proxy, harmonics-to-noise
ratio, spectral slope), so no emotion label is read anywhere.  For each fold a ridge regression from the
embedding (standardised with the training speakers' statistics) to the property is fitted on the training
speakers — its strength chosen by cross-validation grouped by training speaker — and predicts the held-out
speakers; :func:`knowledge` reports the pooled out-of-fold R² per property (1: the property can be read
linearly from the embedding; 0: no better than its mean; negative: worse), and the 5-NN speaker accuracy
of the space (:func:`emolib.evaluation.probes.neighbour_scores`; chance 10 %).

A learner that misses a cue emotion needs (pitch level and range, loudness, voice quality, rate) shows it
here as a low R²; the eGeMAPS set itself is the reference (its R² is near 1 by construction: the
properties are among its columns).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..data.splits import folds as protocol_folds

#: The properties read back, by display name: (eGeMAPS functional, what it measures).
PROPERTIES: dict[str, tuple[str, str]] = {
    "F0 median": ("F0semitoneFrom27.5Hz_sma3nz_percentile50.0", "median pitch of voiced frames, semitones"),
    "F0 range": ("F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2", "20th to 80th percentile of pitch, semitones"),
    "loudness mean": ("loudness_sma3_amean", "mean perceived loudness"),
    "loudness range": ("loudness_sma3_pctlrange0-2", "20th to 80th percentile of loudness"),
    "speaking rate": ("VoicedSegmentsPerSec", "voiced segments per second (a syllable-rate proxy)"),
    "HNR": ("HNRdBACF_sma3nz_amean", "harmonics-to-noise ratio of voiced frames, dB"),
    "spectral slope": ("slopeV0-500_sma3nz_amean", "spectral slope 0-500 Hz of voiced frames"),
}
ALPHAS = np.logspace(-2, 5, 15)


def properties(meta: pd.DataFrame, progress: bool = False) -> pd.DataFrame:
    """:data:`PROPERTIES` of every utterance of ``meta`` (cached eGeMAPS functionals), one column each."""
    from ..data.opensmile import OpenSmileFunctionals, functionals

    names = OpenSmileFunctionals("eGeMAPSv02").feature_names
    table = functionals(meta, "eGeMAPSv02", progress=progress)
    return pd.DataFrame({p: table[:, names.index(col)] for p, (col, _) in PROPERTIES.items()}, index=meta.index)


def _fit_predict(X_train, y_train, groups, X_test) -> np.ndarray:
    """A ridge regression fitted on the training speakers, its strength chosen among :data:`ALPHAS` by
    cross-validation grouped by speaker; its predictions for ``X_test``."""
    import warnings

    from scipy.linalg import LinAlgWarning
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    search = GridSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": ALPHAS},
                          cv=GroupKFold(min(4, len(set(groups)))), scoring="r2")
    with warnings.catch_warnings():  # the weakest penalties on collinear columns (eGeMAPS' own) are ill-conditioned
        warnings.simplefilter("ignore", LinAlgWarning)
        return search.fit(X_train, y_train, groups=groups).predict(X_test)


def knowledge(meta: pd.DataFrame, embeddings: np.ndarray | Mapping[int, np.ndarray], targets: pd.DataFrame,
              protocol: str = "si5") -> dict[str, float]:
    """Out-of-fold R² of each column of ``targets`` (:func:`properties`) from ``embeddings`` (one table, or
    ``{fold: table}`` where each fold has its own encoder), and ``speaker 5-NN`` (the mean over the folds'
    tables of :func:`~emolib.evaluation.probes.neighbour_scores`' speaker accuracy).  Each fold's regression
    sees only its training speakers (targets and inputs); the test speakers are predicted once."""
    from sklearn.metrics import r2_score

    from .probes import neighbour_scores

    speakers = meta.speaker.astype(str).to_numpy()
    folds = protocol_folds(meta, protocol)
    per_fold = embeddings if isinstance(embeddings, Mapping) else {f.index: embeddings for f in folds}
    oof = pd.DataFrame(np.nan, index=targets.index, columns=targets.columns)
    for f in folds:
        X = per_fold[f.index]
        for col in targets.columns:
            y = targets[col].to_numpy()
            oof.iloc[f.test, oof.columns.get_loc(col)] = _fit_predict(X[f.train], y[f.train], speakers[f.train],
                                                                      X[f.test])
    out = {col: float(r2_score(targets[col], oof[col])) for col in targets.columns}
    # one table: its 5-NN once; one per fold: the mean over the folds' tables
    tables = [per_fold[k] for k in sorted(per_fold)] if isinstance(embeddings, Mapping) else [embeddings]
    out["speaker 5-NN"] = float(np.mean([neighbour_scores(X, meta)["speaker_acc"] for X in tables]))
    return out


def knowledge_table(meta: pd.DataFrame, spaces: Mapping[str, np.ndarray | Mapping[int, np.ndarray]],
                    protocol: str = "si5", progress: bool = False) -> pd.DataFrame:
    """:func:`knowledge` of each named embedding space: one row per space, one column per property (R²)
    and ``speaker 5-NN``."""
    targets = properties(meta, progress)
    return pd.DataFrame({name: knowledge(meta, X, targets, protocol) for name, X in spaces.items()}).T

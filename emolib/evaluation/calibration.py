"""Calibration fitted inside the training speakers: temperature scaling and the cross-validation that fits
it (the scores it is judged by — NLL, ECE, Brier — and the reliability bins are
:mod:`emolib.evaluation.metrics`').

- :func:`fit_temperature`: the temperature ``T`` that minimises the NLL of ``softmax(log p / T)`` on
  out-of-fold probabilities of *training* rows (Guo et al., 2017: one parameter, so the ranking of the
  classes, and with it every prediction, UAR and WA, stays as it was); :func:`temper` applies it;
- :func:`calibrated_cv`: out-of-fold predictions with probabilities, and each fold's temperature fitted on
  the out-of-fold probabilities of its training rows only; :func:`summary`, what a row records of it.

Kept rather than scikit-learn's ``CalibratedClassifierCV``: that fits on its own internal folds of the
rows it is given, which are not our speaker folds, and offers per-class sigmoid or isotonic maps, which
change the predicted class; temperature scaling fitted on the speaker-wise out-of-fold probabilities we
already compute is one scalar per fold and keeps the predictions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..data.emodb import CLASSES
from .metrics import EPS, class_indices, predictions, probabilities, scores, with_probabilities


def temper(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row: ``T`` > 1 softens the probabilities, < 1 sharpens them; the order of
    the classes, and so the prediction, does not change."""
    z = np.log(np.clip(np.asarray(proba, np.float64), EPS, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y_true: Sequence[str], bounds: tuple[float, float] = (0.05, 50.0)) -> float:
    """The temperature that minimises the NLL of :func:`temper` ``(proba, T)`` against ``y_true`` (a bounded
    search over log T, scipy's ``minimize_scalar``).  ``proba`` must be out-of-fold probabilities of rows the
    system was *not* fitted on, all of them training rows of the fold being calibrated."""
    from scipy.optimize import minimize_scalar

    truth = class_indices(y_true)
    logp = np.log(np.clip(np.asarray(proba, np.float64), EPS, 1.0))

    def loss(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), truth]))

    found = minimize_scalar(loss, bounds=np.log(bounds), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(found.x))


# --- cross-validation with calibration fitted inside the training speakers ---------------------------------

def inner_folds(fold_of: np.ndarray, train: np.ndarray) -> list[np.ndarray]:
    """The inner folds of an outer fold's training rows ``train``: the protocol's other folds restricted to them
    (``fold_of``: each row's outer fold), as boolean masks over ``train``."""
    return [fold_of[train] == j for j in sorted(set(fold_of[train]))]


def out_of_fold(fit_proba, X: np.ndarray, y: np.ndarray, groups: np.ndarray, fold_of: np.ndarray,
                train: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities of ``train``'s rows: each inner fold predicted by ``fit_proba`` fitted on the
    others (``fit_proba(X_fit, y_fit, groups_fit, X_pred) -> (n, 7)``)."""
    out = np.zeros((len(train), len(CLASSES)))
    for held in inner_folds(fold_of, train):
        fit, pred = train[~held], train[held]
        out[held] = fit_proba(X[fit], y[fit], groups[fit], X[pred])
    return out


def calibrated_cv(fit_proba, X: np.ndarray | dict, meta: pd.DataFrame, protocol: str = "si5",
                  calibrate: bool = True, folds: Sequence[int] | None = None) -> tuple[pd.DataFrame, list[float]]:
    """Out-of-fold predictions with class probabilities (the system's own, ``p_<emotion>``) for every fold of
    ``protocol``, and each fold's temperature: fitted (:func:`fit_temperature`) on the out-of-fold probabilities
    of that fold's *training* rows (:func:`out_of_fold` over the protocol's other folds), so the test
    speakers' labels never reach it.  ``X``: one table, or ``{fold: table}``; ``calibrate=False`` skips the
    inner fits (every temperature 1); ``folds``: only these outer folds (a study on one fold)."""
    from ..data.splits import fold_of as folds_of, folds as protocol_folds

    y = meta.emotion.astype(str).to_numpy()
    groups = meta.speaker.astype(str).to_numpy()
    fold_of = folds_of(meta, protocol)
    parts, temperatures = [], []
    for f in protocol_folds(meta, protocol):
        if folds is not None and f.index not in folds:
            continue
        Xf = X[f.index] if isinstance(X, dict) else X
        temperatures.append(fit_temperature(out_of_fold(fit_proba, Xf, y, groups, fold_of, f.train), y[f.train])
                            if calibrate else 1.0)
        proba = fit_proba(Xf[f.train], y[f.train], groups[f.train], Xf[f.test])
        part = predictions(meta, f.test, f.index, np.array(CLASSES)[proba.argmax(axis=1)])
        parts.append(with_probabilities(part, proba))
    return pd.concat(parts, ignore_index=True), temperatures


def calibrated(pred: pd.DataFrame, temperatures: Sequence[float]) -> np.ndarray:
    """The probabilities of a predictions table, each fold's tempered by its temperature (``temperatures`` in
    the order of the folds present)."""
    proba = probabilities(pred)
    out = proba.copy()
    folds = sorted(pred.fold.unique())
    if len(folds) != len(temperatures):
        raise ValueError(f"{len(temperatures)} temperatures for {len(folds)} folds")
    for k, t in zip(folds, temperatures):
        rows = (pred.fold == k).to_numpy()
        out[rows] = temper(proba[rows], t)
    return out


def summary(pred: pd.DataFrame, temperatures: Sequence[float]) -> dict:
    """What a row records of its calibration: the method, each fold's temperature, and the scores of the
    calibrated probabilities (recomputable from the predictions and the temperatures)."""
    tempered = with_probabilities(pred, calibrated(pred, temperatures))
    return {"method": "temperature scaling, fitted per fold on the training speakers' out-of-fold probabilities",
            "temperature": [float(t) for t in temperatures], **scores(tempered)}

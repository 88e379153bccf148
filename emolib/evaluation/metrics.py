"""Metrics and cross-validation under the project's protocols (docs/protocol.md).

UAR, WA and macro-F1; for systems that give class probabilities, the mean negative log-likelihood (NLL),
the expected calibration error (ECE: the gap between confidence and accuracy over 10 equal-width bins of
the top class's probability, weighted by their share of utterances) and the Brier score (the squared
distance of the probabilities from the one-hot truth, summed over classes); per-class, per-speaker and confusion read-outs of a predictions table
(:data:`PREDICTION_COLUMNS`, one row per tested utterance); :func:`cross_validate`, which fits on
each fold's training speakers only; :func:`fit_by_speakers`, which chooses a hyper-parameter inside
the training speakers.  Where the predictions are kept and checked is :mod:`emolib.evaluation.results`.
"""
from __future__ import annotations

import time
import warnings
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

from ..data import splits
from ..data.emodb import CLASSES

PREDICTION_COLUMNS = ["file", "speaker", "fold", "y_true", "y_pred"]
#: A system that gives class probabilities adds one column per class, in :data:`CLASSES` order, each row
#: summing to 1 (docs/results.md).
PROBABILITY_COLUMNS = [f"p_{c}" for c in CLASSES]
EPS = 1e-12
#: Bins of the expected calibration error and the reliability diagram.
BINS = 10


def probabilities(pred: pd.DataFrame) -> np.ndarray | None:
    """The ``(n, 7)`` probabilities of a predictions table, or None when it has none."""
    if not set(PROBABILITY_COLUMNS) <= set(pred.columns):
        return None
    return pred[PROBABILITY_COLUMNS].to_numpy(dtype=np.float64)


def in_class_order(proba: np.ndarray, classes) -> np.ndarray:
    """A classifier's probability columns (for its ``classes``) in :data:`CLASSES` order; a class absent from
    its training rows gets probability 0."""
    out = np.zeros((len(proba), len(CLASSES)))
    for j, c in enumerate(classes):
        out[:, CLASSES.index(c)] = proba[:, j]
    return out


def with_probabilities(pred: pd.DataFrame, proba: np.ndarray) -> pd.DataFrame:
    """``pred`` with its ``p_<emotion>`` columns set from ``proba`` (``(n, 7)``, :data:`CLASSES` order)."""
    proba = np.asarray(proba, np.float64)
    if proba.shape != (len(pred), len(CLASSES)):
        raise ValueError(f"probabilities of shape {proba.shape} for {len(pred)} predictions of {len(CLASSES)} classes")
    return pred.assign(**{c: proba[:, j] for j, c in enumerate(PROBABILITY_COLUMNS)})


def class_indices(y_true: Sequence[str]) -> np.ndarray:
    """Each label's index in :data:`CLASSES`."""
    return np.array([CLASSES.index(c) for c in y_true])


def nll(y_true: Sequence[str], proba: np.ndarray) -> float:
    """Mean negative log-likelihood (natural log) of the true classes."""
    p = np.asarray(proba)[np.arange(len(proba)), class_indices(y_true)]
    return float(-np.mean(np.log(np.clip(p, EPS, 1.0))))


def brier(y_true: Sequence[str], proba: np.ndarray) -> float:
    """Mean over utterances of the squared distance between the probabilities and the one-hot truth."""
    onehot = np.eye(len(CLASSES))[class_indices(y_true)]
    return float(np.mean(np.sum((np.asarray(proba) - onehot) ** 2, axis=1)))


def reliability(y_true: Sequence[str], proba: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """Per equal-width bin of confidence (the top class's probability): its edges, how many utterances fall in
    it, their mean confidence and their accuracy (empty bins: NaN)."""
    proba = np.asarray(proba)
    conf, right = proba.max(axis=1), proba.argmax(axis=1) == class_indices(y_true)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        rows.append({"low": b / bins, "high": (b + 1) / bins, "n": int(inside.sum()),
                     "confidence": float(conf[inside].mean()) if inside.any() else np.nan,
                     "accuracy": float(right[inside].mean()) if inside.any() else np.nan})
    return pd.DataFrame(rows)


def ece(y_true: Sequence[str], proba: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: ``sum_b n_b / n · |accuracy_b - confidence_b|`` over :func:`reliability`'s bins."""
    table = reliability(y_true, proba, bins).dropna()
    return float((table.n / table.n.sum() * (table.accuracy - table.confidence).abs()).sum())


def scores(pred: pd.DataFrame) -> dict:
    """``{"nll", "ece", "brier"}`` of a predictions table with probabilities (empty without them)."""
    proba = probabilities(pred)
    if proba is None:
        return {}
    return {"nll": nll(pred.y_true, proba), "ece": ece(pred.y_true, proba), "brier": brier(pred.y_true, proba)}




def uar(y_true, y_pred) -> float:
    """Unweighted average recall (balanced accuracy) over the classes present in y_true.  A predicted
    class that never occurs in y_true is simply wrong for its rows, which is what this measure means,
    so scikit-learn's warning about it is silenced here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(balanced_accuracy_score(y_true, y_pred))


def wa(y_true, y_pred) -> float:
    """Weighted accuracy: the plain fraction of correct decisions."""
    return float(accuracy_score(y_true, y_pred))


def macro_f1(y_true, y_pred) -> float:
    """Macro-averaged F1 over the classes present in y_true (EmoBox reports it beside UA and WA)."""
    labels = sorted(set(y_true))
    return float(f1_score(y_true, y_pred, labels=labels, average="macro"))


def per_class_recall(y_true, y_pred) -> pd.Series:
    labels = [c for c in CLASSES if c in set(y_true)]
    return pd.Series(recall_score(y_true, y_pred, labels=labels, average=None), index=labels)


def confusion(y_true, y_pred, normalize: str | None = "true") -> pd.DataFrame:
    """Confusion matrix (rows: true emotion) in class order, row-normalised by default."""
    m = confusion_matrix(y_true, y_pred, labels=CLASSES, normalize=normalize)
    return pd.DataFrame(m, index=CLASSES, columns=CLASSES)


def per_speaker_uar(pred: pd.DataFrame) -> pd.Series:
    """UAR of each test speaker's predictions (a predictions table, PREDICTION_COLUMNS)."""
    return pred.groupby(pred.speaker.astype(str)).apply(lambda g: uar(g.y_true, g.y_pred)).rename("uar")


def top_confusions(pred: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` most frequent errors: true and predicted emotion, how many utterances, and their share
    of the true emotion's utterances."""
    wrong = pred[pred.y_true != pred.y_pred]
    counts = wrong.groupby(["y_true", "y_pred"]).size().rename("n").reset_index()
    counts["% of true class"] = 100 * counts.n / counts.y_true.map(pred.y_true.value_counts())
    return counts.sort_values("n", ascending=False).head(n).reset_index(drop=True)


def cross_validate(fit_predict: Callable[..., np.ndarray], X: np.ndarray | dict[int, np.ndarray],
                   meta: pd.DataFrame, protocol: str = "si5", groups=None,
                   folds: Sequence[int] | None = None) -> pd.DataFrame:
    """Out-of-fold predictions of ``fit_predict(X_train, y_train, X_test) -> y_pred`` for
    utterance-level features ``X`` (one row per row of ``meta``; or ``{fold index: array}``
    when each fold has features of its own, e.g. from an encoder pretrained on its training
    speakers), fitted on the training speakers of each fold only.  With ``groups`` (one label
    per row, e.g. the speakers) ``fit_predict`` also gets the training rows' groups as a
    fourth argument, for model selection inside the training speakers.  ``folds`` restricts
    the run to some folds (a study on one fold).  ``protocol``: ``si5``, ``loso`` or ``emobox``
    (:func:`emolib.data.splits.folds`).  Returns a predictions table (PREDICTION_COLUMNS)."""
    y = meta.emotion.astype(str).to_numpy()
    parts = []
    for fold in splits.folds(meta, protocol):
        if folds is not None and fold.index not in folds:
            continue
        Xf = X[fold.index] if isinstance(X, dict) else X
        extra = () if groups is None else (np.asarray(groups)[fold.train],)
        pred = fit_predict(Xf[fold.train], y[fold.train], Xf[fold.test], *extra)
        parts.append(predictions(meta, fold.test, fold.index, pred))
    return pd.concat(parts, ignore_index=True)


def predictions(meta: pd.DataFrame, rows: np.ndarray, fold: int, y_pred) -> pd.DataFrame:
    """One fold's part of a predictions table (PREDICTION_COLUMNS): ``rows`` of ``meta`` and their
    predicted emotions."""
    return pd.DataFrame({"file": meta.file.to_numpy()[rows], "speaker": meta.speaker.to_numpy()[rows],
                         "fold": fold, "y_true": meta.emotion.astype(str).to_numpy()[rows], "y_pred": y_pred})


def fit_by_speakers(model, param: str, grid: Sequence, X: np.ndarray, y: np.ndarray, groups=None,
                    jobs: int = -1):
    """``model`` (a scikit-learn estimator) fitted on ``X, y`` with ``param`` set to the value of
    ``grid`` that gives the best UAR in leave-speakers-out cross-validation *within these rows*
    (``groups``: their speakers; at most 4 folds), so held-out speakers never choose it.  One value:
    just fitted with it.  ``jobs``: worker processes for the candidate fits (-1: all cores; 1 for a
    model that fits in milliseconds, where starting workers costs more than it saves)."""
    from sklearn.base import clone
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GridSearchCV, GroupKFold

    grid = list(grid)
    if len(grid) == 1:
        return clone(model).set_params(**{param: grid[0]}).fit(X, y)
    if groups is None:
        raise ValueError(f"choosing {param} needs the training rows' speakers (groups)")
    # The candidate fits are independent and each is deterministic, so fitting them on all cores
    # (n_jobs=-1) chooses the same value and returns the same model, only sooner.  joblib reads
    # "all cores" from LOKY_MAX_CPU_COUNT when it is set: set it to share a machine (several runs
    # at once) or to 1 for no worker processes.
    # scored by uar (scikit-learn's balanced accuracy, the same numbers) so that the warning about a class
    # absent from an inner fold's speakers stays silent in the worker processes too
    search = GridSearchCV(model, {param: grid}, scoring=make_scorer(uar), n_jobs=jobs,
                          cv=GroupKFold(n_splits=min(4, len(set(groups)))))
    return search.fit(X, y, groups=groups).best_estimator_


def summarize(pred: pd.DataFrame) -> dict:
    """UAR, WA and macro-F1 pooled over all predictions, the UAR of each fold, and where the predictions carry
    class probabilities their NLL, ECE and Brier score (:func:`scores`)."""
    folds = [uar(g.y_true, g.y_pred) for _, g in pred.groupby("fold", sort=True)]
    return {"uar": uar(pred.y_true, pred.y_pred), "wa": wa(pred.y_true, pred.y_pred),
            "f1": macro_f1(pred.y_true, pred.y_pred), "fold_uar": folds, "n": len(pred), **scores(pred)}


class Timer:
    """``with Timer() as t: …`` then ``t.seconds``: wall time for a results row."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start

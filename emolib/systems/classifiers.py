"""The systems' classifiers, each in two steps so that a fitted model can be kept (:mod:`emolib.systems.final`):
``fit(X, y, groups) -> model`` and ``proba(model, X) -> class probabilities`` (columns in
:data:`emolib.data.emodb.CLASSES` order).

- :func:`logreg`: the openSMILE baselines' standardised logistic regression (fixed ``C``,
  :func:`emolib.systems.baselines.logistic_regression`);
- :func:`probe`: notebook 04's linear probe of encoder embeddings (:func:`emolib.evaluation.probes.logreg_model`,
  ``C`` chosen by leave-speakers-out cross-validation inside the training rows);
- :func:`conv1d`: the report's Conv1D on one descriptor vector per utterance (softmax of its logits).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..data.emodb import CLASSES
from ..evaluation import metrics
from ..models import cnn


@dataclass(frozen=True)
class Classifier:
    """A classifier in two steps, ``fit(X, y, groups) -> model`` and ``proba(model, X)``; calling it
    fits and predicts in one go."""

    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], object]
    proba: Callable[[object, np.ndarray], np.ndarray]

    def __call__(self, X, y, groups, X_test) -> np.ndarray:
        return self.proba(self.fit(X, y, groups), X_test)


def sklearn_proba(model, X) -> np.ndarray:
    """A fitted scikit-learn classifier's (or a :class:`emolib.systems.portable.LinearModel`'s)
    probabilities in :data:`CLASSES` order."""
    return metrics.in_class_order(model.predict_proba(X), model.classes_)


def logreg(feature_set: str) -> Classifier:
    """The openSMILE baselines' logistic regression (fixed C)."""
    from .baselines import logistic_regression

    return Classifier(lambda X, y, groups: logistic_regression(feature_set=feature_set).fit(X, y), sklearn_proba)


def probe(C: Sequence[float] = (0.01, 0.1, 1.0), seed: int = 0) -> Classifier:
    """Notebook 04's probe, ``C`` chosen by leave-speakers-out cross-validation inside the training rows."""
    from ..evaluation.probes import logreg_model

    def fit(X, y, groups):
        return metrics.fit_by_speakers(logreg_model(seed), "logisticregression__C", C, X, y, groups)
    return Classifier(fit, sklearn_proba)


def _conv1d_proba(model, X) -> np.ndarray:
    import torch

    return torch.softmax(torch.from_numpy(cnn.predict_logits(model, X)), dim=1).double().numpy()


def conv1d(budget: cnn.TrainConfig) -> Classifier:
    """The report's Conv1D (one row per utterance): softmax of its logits."""
    def fit(X, y, groups):
        return cnn.train(X, np.array([CLASSES.index(c) for c in y]), budget, progress=False)[0]
    return Classifier(fit, _conv1d_proba)

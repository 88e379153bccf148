"""Metrics and cross-validation."""
import numpy as np

from emolib.data.emodb import CLASSES
from emolib.evaluation import metrics


def test_uar_is_balanced_and_wa_is_plain_accuracy():
    y_true = ["anger"] * 8 + ["sadness"] * 2
    y_pred = ["anger"] * 10  # always the majority class
    assert metrics.wa(y_true, y_pred) == 0.8
    assert metrics.uar(y_true, y_pred) == 0.5


def test_cross_validate_fits_on_training_speakers_only(toy_meta):
    meta = toy_meta
    X = np.arange(len(meta), dtype=float)[:, None]
    seen = []

    def fit_predict(X_train, y_train, X_test):
        train_speakers = set(meta.speaker[X_train[:, 0].astype(int)])
        test_speakers = set(meta.speaker[X_test[:, 0].astype(int)])
        assert not train_speakers & test_speakers
        seen.append(len(X_test))
        return np.array(["neutral"] * len(X_test))

    pred = metrics.cross_validate(fit_predict, X, meta)
    assert len(seen) == 5 and sum(seen) == len(meta) == len(pred)
    assert sorted(pred.file) == sorted(meta.file)
    assert list(pred.columns) == metrics.PREDICTION_COLUMNS


def test_confusion_and_per_class_recall():
    y_true = ["anger", "anger", "sadness", "sadness"]
    y_pred = ["anger", "sadness", "sadness", "sadness"]
    cm = metrics.confusion(y_true, y_pred)
    assert cm.loc["anger", "anger"] == 0.5 and cm.loc["sadness", "sadness"] == 1.0
    assert list(cm.index) == CLASSES
    recall = metrics.per_class_recall(y_true, y_pred)
    assert recall.to_dict() == {"anger": 0.5, "sadness": 1.0}

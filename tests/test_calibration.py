"""Probabilities and their calibration: proper scores, temperature scaling, and calibration that never sees a
test speaker."""
import numpy as np
import pandas as pd
import pytest

from emolib.data.emodb import CLASSES
from emolib.evaluation import calibration as C
from emolib.evaluation import metrics as M


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def test_scores_of_certain_uniform_and_wrong_probabilities():
    y = ["anger", "boredom"]
    onehot = np.eye(7)[[CLASSES.index(c) for c in y]]
    assert M.nll(y, onehot) == pytest.approx(0, abs=1e-9) and M.brier(y, onehot) == 0 and M.ece(y, onehot) == 0
    uniform = np.full((2, 7), 1 / 7)
    assert M.nll(y, uniform) == pytest.approx(np.log(7)) and M.brier(y, uniform) == pytest.approx(6 / 7)
    wrong = np.eye(7)[[1, 0]]
    assert M.ece(y, wrong) == pytest.approx(1.0) and M.brier(y, wrong) == pytest.approx(2.0)


def test_temperature_keeps_every_prediction_and_recovers_a_known_one():
    rng = np.random.default_rng(0)
    z = rng.normal(scale=2.0, size=(4000, 7))
    y = [CLASSES[rng.choice(7, p=p)] for p in _softmax(z)]  # drawn from the calibrated probabilities
    overconfident = _softmax(3 * z)
    t = C.fit_temperature(overconfident, y)
    assert t == pytest.approx(3.0, rel=0.1)
    fixed = C.temper(overconfident, t)
    assert (fixed.argmax(1) == overconfident.argmax(1)).all()
    assert M.ece(y, fixed) < 0.03 < M.ece(y, overconfident)
    np.testing.assert_allclose(C.temper(overconfident, 1.0), overconfident, atol=1e-12)


def test_reliability_bins_count_every_prediction():
    rng = np.random.default_rng(1)
    p = _softmax(rng.normal(size=(300, 7)))
    y = [CLASSES[i] for i in rng.integers(7, size=300)]
    table = M.reliability(y, p)
    assert table.n.sum() == 300 and len(table) == M.BINS


def _meta(per_cell=4):
    from emolib.data.emodb import SPEAKERS

    rows = [(f"{s}a0{v}{e[0]}a.wav", s, e) for s in sorted(SPEAKERS) for e in CLASSES for v in range(per_cell)]
    return pd.DataFrame(rows, columns=["file", "speaker", "emotion"])


def _features(meta, seed=0):
    rng = np.random.default_rng(seed)
    signal = np.eye(7)[[CLASSES.index(e) for e in meta.emotion]]
    return 2 * signal + rng.normal(size=signal.shape)


def _logreg(X, y, groups, X_test):
    from sklearn.linear_model import LogisticRegression

    from emolib.systems.classifiers import sklearn_proba

    return sklearn_proba(LogisticRegression(C=100.0, max_iter=2000).fit(X, y), X_test)


def test_calibration_never_sees_a_test_speaker():
    meta = _meta()
    X = _features(meta)
    pred, temps = C.calibrated_cv(_logreg, X, meta)
    assert np.allclose(M.probabilities(pred).sum(axis=1), 1) and len(temps) == 5
    assert (pred.y_pred == np.array(CLASSES)[M.probabilities(pred).argmax(1)]).all()
    poisoned = meta.copy()
    from emolib.data.splits import folds

    k = 2
    test = folds(meta, "si5")[k].test
    poisoned.loc[poisoned.index[test], "emotion"] = "anger"  # every test label of fold k wrong but one class
    _, again = C.calibrated_cv(_logreg, X, poisoned)
    assert again[k] == temps[k]  # fold k's temperature is fitted without its test speakers' labels
    assert again != temps  # the poison did reach the other folds' calibration, where fold k's rows train


def test_a_rows_calibration_is_recomputable_from_its_predictions():
    meta = _meta()
    pred, temps = C.calibrated_cv(_logreg, _features(meta, 3), meta)
    summary = C.summary(pred, temps)
    again = M.scores(M.with_probabilities(pred, C.calibrated(pred, summary["temperature"])))
    assert again == {k: summary[k] for k in ("nll", "ece", "brier")}
    assert summary["nll"] <= M.nll(pred.y_true, M.probabilities(pred)) + 0.05

"""openSMILE functionals baselines: the front-end, its cache, and run_baseline on the
synthetic corpus (all 10 EmoDB speakers, so SI-5 applies; learnable by design)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emolib.data import corpus, features, opensmile, splits
from emolib.data.opensmile import OpenSmileFunctionals
from emolib.evaluation import metrics, results
from emolib.systems import baselines

SR = 16_000


def voice(seconds: float = 1.0, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A harmonic, vowel-like test signal with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, 12)) * np.hanning(len(t))
    return (0.3 * y / np.max(np.abs(y)) + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("feature_set, rows", [("eGeMAPSv02", 88), ("ComParE_2016", 6373)])
def test_frontend_shapes(feature_set, rows, capfd):
    fe = OpenSmileFunctionals(feature_set)
    out = fe(voice())
    assert fe.n_rows == rows
    assert out.shape == (rows, 1) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert np.count_nonzero(out) > rows // 2  # real values, not an empty frame
    assert capfd.readouterr().err == ""  # openSMILE extraction prints no warnings


def test_frontend_key_and_validation():
    e, c = OpenSmileFunctionals("eGeMAPSv02"), OpenSmileFunctionals("ComParE_2016")
    assert e.key() != c.key()
    assert e.key() == OpenSmileFunctionals("eGeMAPSv02").key()
    assert e.key() != OpenSmileFunctionals("eGeMAPSv02", sample_rate=8000).key()
    with pytest.raises(ValueError, match="eGeMAPS_v99.*eGeMAPSv02.*ComParE_2016"):
        OpenSmileFunctionals("eGeMAPS_v99")
    with pytest.raises(ValueError, match="nosuchset"):
        opensmile.functionals(pd.DataFrame({"path": []}), "nosuchset")


def test_functionals_cached(tmp_path, wav_writer, monkeypatch):
    paths = [str(wav_writer(tmp_path / f"u{i}.wav", voice(0.8, 120 + 30 * i, seed=100 + i), SR))
             for i in range(3)]
    meta = pd.DataFrame({"path": paths})
    smile = opensmile._smile("eGeMAPSv02")
    real = smile.process_signal
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(smile, "process_signal", counting)
    first = opensmile.functionals(meta, "eGeMAPSv02", progress=False)
    assert len(calls) == 3
    assert first.shape == (3, 88) and first.dtype == np.float64
    assert len({tuple(r) for r in first}) == 3  # one distinct row per file, in order

    def boom(*args, **kwargs):
        raise AssertionError("openSMILE called although the features are cached")

    monkeypatch.setattr(smile, "process_signal", boom)
    again = opensmile.functionals(meta, "eGeMAPSv02", progress=False)
    np.testing.assert_array_equal(again, first)
    # the order follows meta, also when served from the cache
    np.testing.assert_array_equal(
        opensmile.functionals(meta.iloc[::-1], "eGeMAPSv02", progress=False), first[::-1])


def test_classifiers_fixed():
    for fs in opensmile.FEATURE_SETS:
        svm = baselines.linear_svm(feature_set=fs)
        lr = baselines.logistic_regression(feature_set=fs)
        assert svm[-1].C == baselines.SVM_C[fs] and lr[-1].C == baselines.LOGREG_C[fs]
        assert type(svm[0]).__name__ == "StandardScaler" == type(lr[0]).__name__
    assert baselines.linear_svm(0.5)[-1].C == 0.5
    assert set(baselines.CLASSIFIERS) == {"svm", "logreg"}


# --- run_baseline on the synthetic corpus ---------------------------------------------------

class Spy:
    """A classifier factory recording what each fold's model was fitted on and tested with."""

    def __init__(self, make):
        self.make, self.fits, self.tests = make, [], []

    def __call__(self, C=None, feature_set="eGeMAPSv02"):
        spy, inner = self, self.make(C, feature_set=feature_set)

        class Model:
            def fit(self, X, y):
                spy.fits.append((np.array(X), np.array(y)))
                inner.fit(X, y)
                return self

            def predict(self, X):
                spy.tests.append(np.array(X))
                return inner.predict(X)

            def predict_proba(self, X):
                spy.tests.append(np.array(X))
                return inner.predict_proba(X)

            @property
            def classes_(self):
                return inner.classes_

            def __getitem__(self, i):
                return inner[i]

        return Model()


@pytest.fixture(scope="module")
def synthetic():
    return corpus.load_corpus("synthetic")


@pytest.fixture(scope="module")
def svm_run(synthetic, tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    spy = Spy(baselines.linear_svm)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(baselines.CLASSIFIERS, "svm", spy)
        row, pred = baselines.run_baseline(synthetic, "eGeMAPSv02", "svm", write=True,
                                           folder=folder, progress=False)
    return row, pred, spy, folder


def test_run_baseline_predictions(synthetic, svm_run):
    row, pred, _, _ = svm_run
    assert list(pred.columns) == metrics.PREDICTION_COLUMNS
    assert len(pred) == len(synthetic) and sorted(pred.file) == sorted(synthetic.file)
    truth = dict(zip(synthetic.file, synthetic.emotion.astype(str)))
    assert all(pred.y_true == pred.file.map(truth))
    assert row["n"] == len(synthetic) and len(row["fold_uar"]) == 5
    # learnable by design: chance is 1/7, the SVM on eGeMAPS gets far above it
    assert row["uar"] > 0.75, row["uar"]


def test_run_baseline_speaker_independent(synthetic, svm_run):
    """Each fold's model is fitted on rows of training speakers only (rows identified by
    their feature vectors) and tested on exactly the held-out speakers' rows."""
    _, pred, spy, _ = svm_run
    X = opensmile.functionals(synthetic, "eGeMAPSv02", progress=False)
    row_of = {x.tobytes(): i for i, x in enumerate(X)}
    assert len(row_of) == len(X)
    speakers = synthetic.speaker.to_numpy()
    folds = splits.speaker_folds(synthetic, "si5")
    assert len(spy.fits) == len(spy.tests) == len(folds)
    tested = []
    for (X_train, _), X_test, fold in zip(spy.fits, spy.tests, folds):
        train_rows = [row_of[x.tobytes()] for x in X_train]
        test_rows = [row_of[x.tobytes()] for x in X_test]
        train_spk, test_spk = set(speakers[train_rows]), set(speakers[test_rows])
        assert not train_spk & test_spk
        assert test_spk == set(fold.test_speakers) and len(train_spk) == 8
        assert set(pred.speaker[pred.fold == fold.index]) == test_spk
        tested += test_rows
    assert sorted(tested) == list(range(len(X)))


def test_run_baseline_written(svm_run):
    row, pred, _, folder = svm_run
    run = "baseline_egemaps_svm"
    assert row["run"] == run
    saved = json.loads((folder / f"{run}.json").read_text())
    assert (folder / f"{run}_predictions.csv").is_file()
    assert saved["protocol"] == "SI-5" and saved["corpus"] == "synthetic"
    assert saved["method"] == "eGeMAPSv02 functionals + linear SVM"
    assert saved["speaker_norm"] is False and saved["device"] == "cpu"
    assert saved["config"]["C"] == baselines.SVM_C["eGeMAPSv02"] and saved["wall_s"] >= 0
    again = results.recompute(run, folder)
    assert again["uar"] == saved["uar"] == row["uar"]
    assert again["wa"] == saved["wa"] == row["wa"]
    assert again["fold_uar"] == saved["fold_uar"]


def test_speaker_norm(synthetic, monkeypatch):
    X = opensmile.functionals(synthetic, "eGeMAPSv02", progress=False)
    speakers = synthetic.speaker.to_numpy()
    Z = features.speaker_standardize(X, speakers)
    assert not np.allclose(Z, X)
    for s in np.unique(speakers):
        assert np.allclose(Z[speakers == s].mean(axis=0), 0, atol=1e-9)

    spy = Spy(baselines.logistic_regression)
    monkeypatch.setitem(baselines.CLASSIFIERS, "logreg", spy)
    monkeypatch.setattr(results, "write_result",
                        lambda *a, **k: pytest.fail("write=False must not write results"))
    row, pred = baselines.run_baseline(synthetic, "eGeMAPSv02", "logreg", speaker_norm=True,
                                       write=False, progress=False)
    # each fold's model saw speaker-normalised features of the fold's training rows (the other fits are the
    # calibration's, on subsets of them)
    for fold in splits.speaker_folds(synthetic, "si5"):
        assert any(X.shape == Z[fold.train].shape and np.allclose(X, Z[fold.train]) for X, _ in spy.fits)
    assert row["run"] == "baseline_egemaps_logreg_spknorm" and row["speaker_norm"] is True
    assert row["method"] == "eGeMAPSv02 functionals + logistic regression"
    assert len(pred) == len(synthetic) and row["uar"] > 0.75


def test_loso_and_errors(synthetic):
    row, pred = baselines.run_baseline(synthetic, "eGeMAPSv02", "svm", protocol="loso",
                                       write=False, progress=False)
    assert row["protocol"] == "LOSO" and row["run"] == "baseline_egemaps_svm_loso"
    assert len(row["fold_uar"]) == 10 and len(pred) == len(synthetic)
    assert all(g.speaker.nunique() == 1 for _, g in pred.groupby("fold"))
    row, _ = baselines.run_baseline(synthetic, "eGeMAPSv02", "svm", write=False, progress=False,
                                    C=0.5)
    assert row["run"] == "baseline_egemaps_svm_C0.5" and row["config"]["C"] == 0.5
    with pytest.raises(ValueError, match="knn"):
        baselines.run_baseline(synthetic, "eGeMAPSv02", "knn", write=False, progress=False)
    with pytest.raises(ValueError, match="si10"):
        baselines.run_baseline(synthetic, "eGeMAPSv02", "svm", protocol="si10", write=False,
                               progress=False)


def test_the_baseline_study_runs_every_feature_set_classifier_and_normalisation(monkeypatch):
    calls = []

    def fake_run(meta, feature_set, classifier, speaker_norm=False, protocol="si5", profile=None, corpus=None,
                 progress=True):
        calls.append((feature_set, classifier, speaker_norm, protocol, profile))
        return {"run": baselines.run_name(feature_set, classifier, speaker_norm, protocol)}, None

    monkeypatch.setattr(baselines, "run_baseline", fake_run)
    rows = baselines.study(None, "emobox", profile="smoke")
    assert calls == [(f, c, n, "emobox", "smoke") for f in opensmile.FEATURE_SETS for c in baselines.CLASSIFIERS
                     for n in (False, True)]
    assert len({r["run"] for r in rows}) == 8

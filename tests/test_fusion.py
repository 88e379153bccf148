"""Stacked fusion: nested inside each fold, so no test row ever reaches the stacker's training."""
import numpy as np
import pandas as pd
import pytest

from emolib.core.errors import EmolibError
from emolib.data.emodb import CLASSES, SPEAKERS
from emolib.evaluation import metrics
from emolib.evaluation.runs import fusion_stem, named
from emolib.systems import classifiers, fusion, registry


def _meta(per_cell=3):
    rows = [(f"{s}a0{v}{e[0]}a.wav", s, e) for s in sorted(SPEAKERS) for e in CLASSES for v in range(per_cell)]
    return pd.DataFrame(rows, columns=["file", "speaker", "emotion"])


def _features(meta, seed):
    rng = np.random.default_rng(seed)
    signal = np.eye(len(CLASSES))[[CLASSES.index(e) for e in meta.emotion]]
    return signal * rng.uniform(0.5, 2.0) + rng.normal(scale=1.0, size=signal.shape)


class Recorder:
    """A base classifier that remembers which rows it was fitted on and asked about."""

    def __init__(self, feature_set="eGeMAPSv02"):
        self.inner = classifiers.logreg(feature_set)
        self.fits = []

    def __call__(self, X, y, groups, X_test):
        self.fits.append((set(X[:, -1].astype(int)), set(X_test[:, -1].astype(int))))
        return self.inner(X[:, :-1], y, groups, X_test[:, :-1])


def _with_index(X):
    return np.hstack([X, np.arange(len(X))[:, None]])


def test_no_test_row_of_a_fold_takes_part_in_its_stackers_training():
    meta = _meta()
    rec = Recorder()
    probs = fusion.base_probabilities(meta, fusion.Base("a", _with_index(_features(meta, 0)), rec))
    assert len(rec.fits) == 5 * (4 + 1)  # 4 inner fits and 1 outer fit per fold
    for k, p in probs.items():
        test = set(p["test"])
        fits = rec.fits[5 * k:5 * k + 5]
        for fitted, asked in fits[:4]:  # inner: fitted and predicted inside fold k's training rows only
            assert not (fitted | asked) & test and asked <= set(p["train"])
        assert not fits[4][0] & test and fits[4][1] == test  # outer: fitted on the training rows only
        assert p["inner"].shape == (len(p["train"]), len(CLASSES))
        np.testing.assert_allclose(p["inner"].sum(axis=1), 1.0)


def test_poisoning_a_test_speakers_base_features_leaves_the_stacker_unchanged():
    meta = _meta()
    X = [_features(meta, 1), _features(meta, 2)]
    bases = lambda Xs: [fusion.Base(n, x, classifiers.logreg("eGeMAPSv02")) for n, x in zip("ab", Xs)]
    clean = {b.name: fusion.base_probabilities(meta, b) for b in bases(X)}
    k = 2
    test = clean["a"][k]["test"]
    poisoned_X = [x.copy() for x in X]
    for x in poisoned_X:
        x[test] = 1e3 * np.random.default_rng(9).normal(size=x[test].shape)  # garbage for fold k's test rows
    poisoned = {b.name: fusion.base_probabilities(meta, b) for b in bases(poisoned_X)}
    y = meta.emotion.to_numpy()
    train = clean["a"][k]["train"]
    for name in "ab":
        np.testing.assert_array_equal(poisoned[name][k]["inner"], clean[name][k]["inner"])
    groups = meta.speaker.to_numpy()[train]
    s_clean = fusion.stacker([clean[n][k]["inner"] for n in "ab"], y[train], groups)
    s_poison = fusion.stacker([poisoned[n][k]["inner"] for n in "ab"], y[train], groups)
    np.testing.assert_array_equal(s_clean.coef_, s_poison.coef_)
    assert not np.allclose(poisoned["a"][k]["test_proba"], clean["a"][k]["test_proba"])  # the poison did arrive


def test_stack_predicts_every_row_once_and_beats_chance_on_informative_bases():
    meta = _meta()
    probs = {n: fusion.base_probabilities(meta, fusion.Base(n, _features(meta, s), classifiers.logreg("eGeMAPSv02")))
             for n, s in (("a", 3), ("b", 4))}
    pred = fusion.stack(meta, probs, ("a", "b"))
    assert list(pred.columns) == metrics.PREDICTION_COLUMNS + metrics.PROBABILITY_COLUMNS
    assert sorted(pred.file) == sorted(meta.file)
    assert metrics.uar(pred.y_true, pred.y_pred) > 2 / len(CLASSES)
    alone = fusion.single(meta, probs["a"])
    assert sorted(alone.file) == sorted(meta.file)


def test_names_subsets_and_system_checks():
    assert named(fusion_stem(("compare", "moco")), speaker_norm=True, protocol="emobox") == "fusion_compare_moco_spknorm_emobox"
    assert registry.subsets(("a", "b", "c")) == [("a", "b", "c"), ("b", "c"), ("a", "c"), ("a", "b")]
    assert registry.subsets(("a", "b")) == [("a", "b")]
    with pytest.raises(EmolibError, match="--systems compare bogus: choose 2 or more"):
        registry.check(["compare", "bogus"], at_least=2)
    with pytest.raises(EmolibError, match="2 or more"):
        registry.check(["compare"], at_least=2)


def test_the_registry_names_every_system_its_row_and_the_models_built_from_them():
    assert registry.names() == ("compare", "egemaps", "moco", "cnn", "cnnsig")  # the fusion's order, as its rows are named
    assert [registry.get(n).row for n in registry.names()] == [
        "baseline_compare_logreg", "baseline_egemaps_logreg", "moco_probe_logreg", "cnn_si5_whole", "ssl_cnn_sig_stats"]
    models = registry.models()
    assert "fusion_compare_egemaps_moco_cnn_cnnsig" in models and "fusion_compare_egemaps_moco_cnn" in models
    assert registry.systems_of("fusion_compare_moco_cnn_cnnsig") == ["compare", "moco", "cnn", "cnnsig"]
    assert registry.systems_of("cnn_si5_whole") == ["cnn"]
    with pytest.raises(EmolibError, match="--model 'nope'"):
        registry.systems_of("nope")
    assert registry.systems_of("fusion_compare_egemaps_cnn") == ["compare", "egemaps", "cnn"]  # any subset, by name
    for bad in ("fusion_cnn_compare", "fusion_compare", "fusion_compare_compare", "fusion_compare_nope"):
        with pytest.raises(EmolibError, match="--model"):
            registry.systems_of(bad)
    with pytest.raises(EmolibError, match="no system 'nope'"):
        registry.get("nope")
    with pytest.raises(ValueError, match="taken"):
        registry.register(registry.get("cnn"))
    assert [registry.get(n).per_fold for n in registry.names()] == [False, False, True, False, True]
    # the learner system reads the learners' study's fold encoders of its variant, with the statistics read-out
    assert registry.get("cnnsig").encoders_folder("emodb", "full").parts[-2:] == ("ablation", "cnn_sig")
    assert registry.get("cnnsig").stats and not registry.get("moco").stats
    with pytest.raises(EmolibError, match="SI-5 folds only"):
        registry.get("cnnsig").encoders_folder("emodb", "full", "emobox")

"""Metrics, cross-validation and the results store."""
import json

import numpy as np
import pandas as pd
import pytest

from emolib import config, evaluation
from emolib.emodb import CLASSES, SPEAKERS


def _meta(per_cell=2):
    rows = [(f"{s}a01{e[0]}{v}.wav", s, e) for s in sorted(SPEAKERS) for e in CLASSES
            for v in "abcdefgh"[:per_cell]]
    return pd.DataFrame(rows, columns=["file", "speaker", "emotion"])


def test_uar_is_balanced_and_wa_is_plain_accuracy():
    y_true = ["anger"] * 8 + ["sadness"] * 2
    y_pred = ["anger"] * 10  # always the majority class
    assert evaluation.wa(y_true, y_pred) == 0.8
    assert evaluation.uar(y_true, y_pred) == 0.5


def test_cross_validate_fits_on_training_speakers_only():
    meta = _meta()
    X = np.arange(len(meta), dtype=float)[:, None]
    seen = []

    def fit_predict(X_train, y_train, X_test):
        train_speakers = set(meta.speaker[X_train[:, 0].astype(int)])
        test_speakers = set(meta.speaker[X_test[:, 0].astype(int)])
        assert not train_speakers & test_speakers
        seen.append(len(X_test))
        return np.array(["neutral"] * len(X_test))

    pred = evaluation.cross_validate(fit_predict, X, meta)
    assert len(seen) == 5 and sum(seen) == len(meta) == len(pred)
    assert sorted(pred.file) == sorted(meta.file)
    assert list(pred.columns) == evaluation.PREDICTION_COLUMNS


def test_write_and_recompute_round_trip(tmp_path):
    meta = _meta()
    rng = np.random.default_rng(0)
    pred = evaluation.cross_validate(lambda a, b, X: rng.choice(CLASSES, len(X)),
                                     np.zeros((len(meta), 1)), meta)
    row = evaluation.write_result("toy", pred, method="random guess", protocol="SI-5",
                                  profile="smoke", corpus="synthetic", speaker_norm=False,
                                  wall_s=1.234, folder=tmp_path, note="x")
    stored = json.loads((tmp_path / "toy.json").read_text())
    assert stored == row and stored["note"] == "x" and stored["n"] == len(meta)
    again = evaluation.recompute("toy", tmp_path)
    assert (again["uar"], again["wa"], again["fold_uar"]) == (row["uar"], row["wa"], row["fold_uar"])
    assert len(row["fold_uar"]) == 5
    table = evaluation.results_table(tmp_path)
    assert (table.method == "random guess").sum() == 1
    assert table.protocol.str.contains("quoted").sum() == len(evaluation.REPORT_ROWS)


def test_default_folder_separates_smoke_and_synthetic_runs(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "RESULTS", tmp_path)
    pred = pd.DataFrame({"file": ["a"], "speaker": ["03"], "fold": [0], "y_true": ["anger"],
                         "y_pred": ["anger"]})
    evaluation.write_result("r", pred, method="m", protocol="SI-5", profile="smoke",
                            corpus="emodb", speaker_norm=False, wall_s=0)
    evaluation.write_result("r", pred, method="m", protocol="SI-5", profile="full",
                            corpus="synthetic", speaker_norm=False, wall_s=0)
    assert (tmp_path / "smoke" / "r.json").exists() and (tmp_path / "synthetic" / "r.json").exists()
    assert not (tmp_path / "r.json").exists()


def test_predictions_without_required_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="y_pred"):
        evaluation.write_result("bad", pd.DataFrame({"file": [], "speaker": [], "fold": [],
                                                     "y_true": []}),
                                method="m", protocol="SI-5", profile="smoke", corpus="emodb",
                                speaker_norm=False, wall_s=0, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_confusion_and_per_class_recall():
    y_true = ["anger", "anger", "sadness", "sadness"]
    y_pred = ["anger", "sadness", "sadness", "sadness"]
    cm = evaluation.confusion(y_true, y_pred)
    assert cm.loc["anger", "anger"] == 0.5 and cm.loc["sadness", "sadness"] == 1.0
    assert list(cm.index) == CLASSES
    recall = evaluation.per_class_recall(y_true, y_pred)
    assert recall.to_dict() == {"anger": 0.5, "sadness": 1.0}


def test_verify_results_catches_edited_numbers_and_leaked_speakers(tmp_path):
    meta = _meta()
    pred = evaluation.cross_validate(lambda a, b, X: np.array(["anger"] * len(X)),
                                     np.zeros((len(meta), 1)), meta)
    evaluation.write_result("ok", pred, method="m", protocol="SI-5", profile="full",
                            corpus="emodb", speaker_norm=False, wall_s=0, folder=tmp_path)
    assert evaluation.verify_results(tmp_path) == 1
    row = json.loads((tmp_path / "ok.json").read_text())
    (tmp_path / "ok.json").write_text(json.dumps({**row, "uar": row["uar"] + 0.01}))
    with pytest.raises(AssertionError, match="ok: uar"):
        evaluation.verify_results(tmp_path)
    (tmp_path / "ok.json").write_text(json.dumps(row))
    leaked = pred.assign(fold=(pred.fold + 1) % 5)  # predictions from folds that trained on them
    evaluation.write_result("ok", leaked, method="m", protocol="SI-5", profile="full",
                            corpus="emodb", speaker_norm=False, wall_s=0, folder=tmp_path)
    with pytest.raises(AssertionError, match="trained on them"):
        evaluation.verify_results(tmp_path)


def test_a_row_records_where_torch_trained_unless_told(tmp_path, monkeypatch):
    from emolib import evaluation

    pred = pd.DataFrame({"file": ["a.wav", "b.wav"], "speaker": ["03", "08"], "fold": [0, 1],
                         "y_true": ["anger", "joy"], "y_pred": ["anger", "anger"]})
    monkeypatch.setenv("EMOLIB_DEVICE", "cpu")
    kw = dict(method="m", protocol="SI-5", profile="smoke", corpus="emodb", speaker_norm=False, wall_s=1.0,
              folder=tmp_path)
    assert evaluation.write_result("r1", pred, **kw)["device"] == "cpu"
    assert evaluation.write_result("r2", pred, device="NVIDIA H100 80GB HBM3", **kw)["device"] == "NVIDIA H100 80GB HBM3"

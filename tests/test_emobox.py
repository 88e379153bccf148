"""EmoBox's EmoDB folds: the shipped list, the folds built from it, its rows and their checks."""
import csv
import json
import subprocess
import sys
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from emolib.core import env
from emolib.data import splits
from emolib.data.download import read_manifest
from emolib.data.emodb import CLASSES, SPEAKERS
from emolib.evaluation import metrics, results, study_tables, tables
from emolib.evaluation.runs import twin
from emolib.studies import emobox


def _shipped():
    text = resources.files("emolib").joinpath("data/emobox_emodb_folds.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def test_shipped_list_is_five_folds_of_107_partitioning_emodb_with_every_speaker_in_each():
    rows = _shipped()
    files = [r["file"] for r in rows]
    assert len(files) == len(set(files)) and set(files) == set(read_manifest())  # all 535, once each
    by_fold = pd.DataFrame(rows).groupby("fold")
    assert sorted(by_fold.groups) == ["1", "2", "3", "4", "5"]
    assert (by_fold.size() == 107).all()
    for _, part in by_fold:
        assert set(part.file.str[:2]) == set(SPEAKERS)  # speaker-dependent: all ten in every test fold
    assert splits.emobox_folds() == {r["file"]: int(r["fold"]) for r in rows}


def _meta(files):
    return pd.DataFrame({"file": files, "speaker": [f[:2] for f in files],
                         "emotion": [CLASSES[i % len(CLASSES)] for i in range(len(files))]})


def test_folds_test_each_file_in_its_emobox_fold_and_train_on_the_rest():
    fold_of = splits.emobox_folds()
    files = list(np.random.default_rng(0).permutation(sorted(fold_of)))  # row order must not matter
    meta = _meta(files)
    folds = splits.folds(meta, "emobox")
    assert [f.index for f in folds] == [0, 1, 2, 3, 4]
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(meta)))
    for f in folds:
        assert {fold_of[x] for x in meta.file.iloc[f.test]} == {f.index + 1}
        assert not set(f.train) & set(f.test) and len(f.train) == len(meta) - 107
        assert set(f.test_speakers) == set(SPEAKERS)
    assert splits.protocol_id(splits.PROTOCOL_NAMES["emobox"]) == "emobox"


def test_files_outside_emodb_and_unknown_protocols_are_refused():
    with pytest.raises(ValueError, match="not in EmoBox's EmoDB folds"):
        splits.folds(_meta(["03a01Fa.wav", "99x01Aa.wav"]), "emobox")
    with pytest.raises(ValueError, match="protocol"):
        splits.folds(_meta(["03a01Fa.wav"]), "random")


def _written(tmp_path, run="toy_emobox"):
    meta = _meta(sorted(splits.emobox_folds()))
    rng = np.random.default_rng(1)
    pred = metrics.cross_validate(lambda a, b, X: rng.choice(CLASSES, len(X)), np.zeros((len(meta), 1)),
                                     meta, protocol="emobox")
    row = results.write_result(run, pred, method="random guess", protocol=splits.PROTOCOL_NAMES["emobox"],
                               profile="full", corpus="emodb", speaker_norm=False, wall_s=0, folder=tmp_path)
    return pred, row


def test_rows_store_f1_and_verify_checks_the_emobox_fold_of_every_file(tmp_path):
    pred, row = _written(tmp_path)
    assert row["f1"] == metrics.macro_f1(pred.y_true, pred.y_pred) and len(row["fold_uar"]) == 5
    assert results.verify_results(tmp_path) == 1
    moved = pred.assign(fold=(pred.fold + 1) % 5)  # tested in the wrong fold: verify must refuse it
    results.write_result("toy_emobox", moved, method="m", protocol=splits.PROTOCOL_NAMES["emobox"],
                         profile="full", corpus="emodb", speaker_norm=False, wall_s=0, folder=tmp_path)
    with pytest.raises(AssertionError, match="EmoBox fold"):
        results.verify_results(tmp_path)
    _written(tmp_path)
    stored = json.loads((tmp_path / "toy_emobox.json").read_text())
    (tmp_path / "toy_emobox.json").write_text(json.dumps({**stored, "f1": stored["f1"] + 0.01}))
    with pytest.raises(AssertionError, match="f1"):
        results.verify_results(tmp_path)


def test_results_filter_by_protocol_and_show_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(env, "RESULTS", tmp_path)
    _written(tmp_path)
    meta = _meta(sorted(splits.emobox_folds()))
    pred = metrics.cross_validate(lambda a, b, X: np.array(["anger"] * len(X)), np.zeros((len(meta), 1)), meta)
    results.write_result("toy_si5", pred, method="m", protocol="SI-5", profile="full", corpus="emodb",
                         speaker_norm=False, wall_s=0, folder=tmp_path)
    out = tables.text(tables.results_table(tmp_path), protocol="emobox")
    assert "toy_emobox" in out and "toy_si5" not in out and " emobox " in out
    lines = tables.text(tables.results_table(tmp_path)).splitlines()
    order = [i for i, line in enumerate(lines) for r in ("toy_si5", "toy_emobox") if line.startswith(r + " ")]
    assert len(order) == 2 and order == sorted(order)  # SI-5 first, then EmoBox
    assert max(map(len, lines)) <= 120


def test_comparison_pairs_each_si5_row_with_its_emobox_twin(tmp_path):
    meta = _meta(sorted(splits.emobox_folds()))
    rng = np.random.default_rng(2)
    made = {}
    for run, protocol in (("baseline_egemaps_logreg", "si5"), ("baseline_egemaps_logreg_emobox", "emobox"),
                          ("baseline_egemaps_logreg_spknorm_emobox", "emobox")):
        pred = metrics.cross_validate(lambda a, b, X: rng.choice(CLASSES, len(X)), np.zeros((len(meta), 1)),
                                         meta, protocol=protocol)
        made[run] = results.write_result(run, pred, method="m", protocol=splits.PROTOCOL_NAMES[protocol],
                                         profile="full", corpus="emodb", speaker_norm=False, wall_s=0,
                                         folder=tmp_path)["uar"]
    table = emobox.comparison(tmp_path)
    r = table.loc["eGeMAPSv02 + logistic regression"]
    assert r["SI-5"] == 100 * made["baseline_egemaps_logreg"]
    assert r["EmoBox"] == 100 * made["baseline_egemaps_logreg_emobox"]
    assert r["EmoBox spk-norm"] == 100 * made["baseline_egemaps_logreg_spknorm_emobox"]
    assert r["overlap gain"] == r["EmoBox"] - r["SI-5"] and np.isnan(r["SI-5 spk-norm"])
    assert twin("cnn_si5_whole", protocol="emobox") == "cnn_whole_emobox"
    assert twin("cnn_whole_emobox", speaker_norm=True) == "cnn_whole_spknorm_emobox"
    text = study_tables.emobox_markdown(table)
    assert text.count("\n") == len(emobox.compared()) + 1


def test_leaderboard_is_the_quoted_table_with_its_source():
    board = emobox.leaderboard()
    assert list(board.columns) == ["ua", "wa", "f1"] and len(board) == 10
    assert board.ua.between(0, 100).all() and "emo-box/EmoBox" in emobox.LEADERBOARD_SOURCE


def test_cli_refuses_a_bad_system_in_one_line_before_reading_the_corpus(tmp_path):
    r = subprocess.run([sys.executable, "-m", "emolib", "emobox", "--systems", "bogus", "--root",
                        str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--systems bogus" in r.stderr
    assert "baselines, cnn, moco, fusion" in r.stderr


def test_emobox_run_refuses_a_corpus_without_emobox_folds():
    with pytest.raises(Exception, match="EmoBox folds are defined for EmoDB"):
        emobox.run(_meta(["99x01Aa.wav"]), ["baselines"])


def test_pretraining_on_emobox_folds_uses_the_fold_training_files_only(emodb_root):
    from emolib.data.corpus import metadata
    from emolib.ssl import inputs, pretrain_config

    meta = metadata(emodb_root).groupby("speaker").head(3).reset_index(drop=True)  # 30 files, cheap
    cfg = pretrain_config.profile_config("smoke", protocol="emobox")
    fold = splits.folds(meta, "emobox")[2]
    data = inputs.fold_data(meta, 2, cfg, progress=False)
    assert list(data.train_speakers) == list(meta.speaker.iloc[fold.train])
    assert len(data.test_mels) == len(fold.test) and len(data.train_mels) == len(fold.train)
    assert {splits.emobox_folds()[f] for f in meta.file.iloc[fold.test]} == {3}
    assert cfg.to_dict()["protocol"] == "emobox"  # recorded in every checkpoint and exported encoder
    assert pretrain_config.default_out("emodb", "smoke", "emobox").name == "emobox"


def test_pretrain_protocol_and_fold_are_checked_first():
    from emolib.core.errors import EmolibError
    from emolib.ssl import pretrain_config

    with pytest.raises(EmolibError, match="--protocol 'bogus'"):
        pretrain_config.PretrainConfig(protocol="bogus")
    with pytest.raises(EmolibError, match="EmoBox 5-fold .* folds are 0–4"):
        pretrain_config.parse_fold("5", "emobox")
    assert pretrain_config.parse_fold("9", "loso") == [9] and pretrain_config.parse_fold("all", "emobox") == [0, 1, 2, 3, 4]

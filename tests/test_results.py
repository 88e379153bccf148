"""The results store: one writer, recomputation from the predictions, the check of every row."""
import json

import numpy as np
import pandas as pd
import pytest

from emolib.core import env
from emolib.data.emodb import CLASSES
from emolib.evaluation import metrics, results, tables
from emolib.evaluation.runs import RunName, twin


def test_write_and_recompute_round_trip(tmp_path, toy_meta):
    meta = toy_meta
    rng = np.random.default_rng(0)
    pred = metrics.cross_validate(lambda a, b, X: rng.choice(CLASSES, len(X)),
                                     np.zeros((len(meta), 1)), meta)
    row = results.write_result("toy", pred, method="random guess", protocol="SI-5",
                               profile="smoke", corpus="synthetic", speaker_norm=False,
                               wall_s=1.234, folder=tmp_path, config={"seed": 3}, note="x")
    stored = json.loads((tmp_path / "toy.json").read_text())
    assert stored == row and stored["note"] == "x" and stored["n"] == len(meta) and stored["config"] == {"seed": 3}
    again = results.recompute("toy", tmp_path)
    assert (again["uar"], again["wa"], again["fold_uar"]) == (row["uar"], row["wa"], row["fold_uar"])
    assert len(row["fold_uar"]) == 5
    table = tables.results_table(tmp_path)
    assert (table.method == "random guess").sum() == 1
    assert table.protocol.str.contains("quoted").sum() == len(results.REPORT_ROWS)
    with pytest.raises(ValueError, match=r"settings \['seed'\] belong in config="):
        results.write_result("toy", pred, method="m", protocol="SI-5", profile="smoke", corpus="synthetic",
                             speaker_norm=False, wall_s=0, folder=tmp_path, seed=1)


def test_default_folder_separates_smoke_and_synthetic_runs(monkeypatch, tmp_path):
    monkeypatch.setattr(env, "RESULTS", tmp_path)
    pred = pd.DataFrame({"file": ["a"], "speaker": ["03"], "fold": [0], "y_true": ["anger"],
                         "y_pred": ["anger"]})
    results.write_result("r", pred, method="m", protocol="SI-5", profile="smoke",
                         corpus="emodb", speaker_norm=False, wall_s=0)
    results.write_result("r", pred, method="m", protocol="SI-5", profile="full",
                         corpus="synthetic", speaker_norm=False, wall_s=0)
    assert (tmp_path / "smoke" / "r.json").exists() and (tmp_path / "synthetic" / "r.json").exists()
    assert not (tmp_path / "r.json").exists()


def test_predictions_without_required_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="y_pred"):
        results.write_result("bad", pd.DataFrame({"file": [], "speaker": [], "fold": [],
                                                     "y_true": []}),
                             method="m", protocol="SI-5", profile="smoke", corpus="emodb",
                             speaker_norm=False, wall_s=0, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_verify_results_catches_edited_numbers_and_leaked_speakers(tmp_path, toy_meta):
    meta = toy_meta
    pred = metrics.cross_validate(lambda a, b, X: np.array(["anger"] * len(X)),
                                     np.zeros((len(meta), 1)), meta)
    results.write_result("ok", pred, method="m", protocol="SI-5", profile="full",
                         corpus="emodb", speaker_norm=False, wall_s=0, folder=tmp_path)
    assert results.verify_results(tmp_path) == 1
    row = json.loads((tmp_path / "ok.json").read_text())
    (tmp_path / "ok.json").write_text(json.dumps({**row, "uar": row["uar"] + 0.01}))
    with pytest.raises(AssertionError, match="ok: uar"):
        results.verify_results(tmp_path)
    (tmp_path / "ok.json").write_text(json.dumps(row))
    leaked = pred.assign(fold=(pred.fold + 1) % 5)  # predictions from folds that trained on them
    results.write_result("ok", leaked, method="m", protocol="SI-5", profile="full",
                         corpus="emodb", speaker_norm=False, wall_s=0, folder=tmp_path)
    with pytest.raises(AssertionError, match="trained on them"):
        results.verify_results(tmp_path)


def test_a_row_records_where_torch_trained_unless_told(tmp_path, monkeypatch):
    from emolib.evaluation import results

    pred = pd.DataFrame({"file": ["a.wav", "b.wav"], "speaker": ["03", "08"], "fold": [0, 1],
                         "y_true": ["anger", "joy"], "y_pred": ["anger", "anger"]})
    monkeypatch.setenv("EMOLIB_DEVICE", "cpu")
    kw = dict(method="m", protocol="SI-5", profile="smoke", corpus="emodb", speaker_norm=False, wall_s=1.0,
              folder=tmp_path)
    assert results.write_result("r1", pred, **kw)["device"] == "cpu"
    assert results.write_result("r2", pred, device="NVIDIA H100 80GB HBM3", **kw)["device"] == "NVIDIA H100 80GB HBM3"


def test_best_row_picks_the_highest_uar_among_the_rows_asked_for(tmp_path, toy_meta):
    from emolib.core.errors import EmolibError

    truth = metrics.cross_validate(lambda a, b, X: np.asarray(b)[: len(X)], np.zeros((len(toy_meta), 1)), toy_meta)
    truth["y_pred"] = truth["y_true"]
    rng = np.random.default_rng(0)
    made = {}
    for run, right, norm, members, device in (("ssl_a", 0.9, False, False, "cpu"), ("ssl_b", 0.6, False, True, "cpu"),
                                              ("ssl_c", 0.3, False, False, "cuda"), ("ssl_d", 0.5, True, False, "cuda"),
                                              ("other", 1.0, False, False, "cpu")):
        pred = truth.copy()
        wrong = rng.random(len(pred)) > right  # a share of the predictions replaced by a wrong class
        pred.loc[wrong, "y_pred"] = [CLASSES[(CLASSES.index(t) + 1) % len(CLASSES)] for t in pred.y_true[wrong]]
        encoder = {"device": device, **({"members": [{}, {}]} if members else {})}
        made[run] = results.write_result(run, pred, method=run, protocol="SI-5", profile="smoke", corpus="synthetic",
                                         speaker_norm=norm, wall_s=0.0, folder=tmp_path,
                                         config={"encoder": encoder})["uar"]
    assert made["ssl_a"] > made["ssl_b"] > made["ssl_c"] and made["other"] == 1.0
    assert results.best_row("ssl_", speaker_norm=False, folder=tmp_path)["run"] == "ssl_a"  # "other": not ssl_*
    made["ssl_a"] = results.write_result("ssl_a", truth, method="a", protocol="SI-5", profile="smoke", corpus="synthetic",
                                         speaker_norm=False, wall_s=0.0, folder=tmp_path,
                                         config={"encoder": {"device": "cpu", "members": [{}, {}]}})["uar"]  # side by side
    assert results.best_row("ssl_", speaker_norm=False, folder=tmp_path)["run"] == "ssl_a"
    assert results.best_row("ssl_", speaker_norm=False, one_encoder=True, folder=tmp_path)["run"] == "ssl_c"
    assert results.best_row("ssl_", speaker_norm=False, device="cuda", folder=tmp_path)["run"] == "ssl_c"
    assert results.best_row("ssl_", speaker_norm=True, folder=tmp_path)["run"] == "ssl_d"
    with pytest.raises(EmolibError, match="no ssl_\\* row .* trained on cpu"):
        results.best_row("ssl_", speaker_norm=True, device="cpu", folder=tmp_path)


def test_provenance_gaps_name_what_an_old_row_lacks_and_pass_a_complete_one(tmp_path, toy_meta):
    pred = metrics.cross_validate(lambda a, b, X: np.array(["anger"] * len(X)),
                                     np.zeros((len(toy_meta), 1)), toy_meta)
    for run, config in [("cnn", {"budget": {"epochs": 1}}), ("probe", {"encoder": {"arch": "vit", "sha256": ["ab"]}}),
                        ("random", {"encoder": {"random_init": {"arch": "vit"}, "seed": 0}})]:
        results.write_result(run, pred, method="m", protocol="SI-5", profile="full", corpus="emodb",
                             speaker_norm=False, wall_s=0, folder=tmp_path, config=config)
    assert results.provenance_gaps(tmp_path).empty
    old = {k: v for k, v in json.loads((tmp_path / "probe.json").read_text()).items() if k not in ("dirty", "f1")}
    (tmp_path / "probe.json").write_text(json.dumps({**old, "config": {"encoder": {"arch": "vit", "device": "gpu"}}}))
    cnn = {k: v for k, v in json.loads((tmp_path / "cnn.json").read_text()).items() if k != "config"}
    (tmp_path / "cnn.json").write_text(json.dumps(cnn))
    gaps = results.provenance_gaps(tmp_path).set_index("run")
    assert gaps.missing.to_dict() == {"cnn": "configuration", "probe": "dirty, f1, encoder sha256"}
    assert gaps.loc["probe", "pretrained_on"] == "gpu"


def test_only_rows_of_encoders_kept_elsewhere_lack_a_contract_field():
    # Every committed row the CPU can re-run has been re-run since the contract grew; what still lacks
    # a field is a probe of encoders that were pretrained on a GPU machine and stayed there.
    gaps = results.provenance_gaps(env.run_dir(env.RESULTS, "emodb", "full"))
    elsewhere = gaps.pretrained_on.ne("") & gaps.pretrained_on.ne("cpu")
    assert elsewhere.all(), gaps[~elsewhere].to_string()


def test_every_committed_run_name_round_trips_through_the_grammar():
    names = [p.stem for p in results.row_paths(env.run_dir(env.RESULTS, "emodb", "full"))]
    assert len(names) > 200
    for name in names:
        assert str(RunName.parse(name)) == name, name


def test_run_names_parse_into_their_parts_and_twin():
    r = RunName.parse("ssl_warp_speaker_input_e300_cpu_seed1_spknorm")
    assert (r.stem, r.tag, r.seed, r.speaker_norm, r.protocol) == ("ssl_warp_speaker_input", "e300_cpu", 1, True, "si5")
    assert RunName.parse("cnn_whole_spknorm_emobox") == RunName("cnn_si5_whole", speaker_norm=True, protocol="emobox")
    assert RunName.parse("cnn_leaky_128ms_overlap50").protocol == "leaky"
    assert RunName.parse("ssl_warp_speaker_input_e300_cpu_seeds01").seed == 0  # a tag, not a seed
    assert twin("baseline_compare_logreg", speaker_norm=True, protocol="emobox") == "baseline_compare_logreg_spknorm_emobox"
    assert twin("ssl_warp_cpu", seed=2) == "ssl_warp_cpu_seed2"
    with pytest.raises(ValueError, match="run protocol 'lab'"):
        RunName("x", protocol="lab")
    with pytest.raises(ValueError, match="no seed inside the tag"):
        RunName("ssl_warp", tag="cpu_seed1")


def test_committed_rows_record_paths_relative_to_the_repository():
    def strings(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value

    paths = results.row_paths(env.run_dir(env.RESULTS, "emodb", "full"))
    absolute = {p.name: s for p in paths for s in strings(json.loads(p.read_text())) if s.startswith("/")}
    assert len(paths) > 200 and not absolute, absolute


def test_a_folder_linked_into_the_repository_is_named_relative_to_it(tmp_path, monkeypatch):
    repo = tmp_path / "checkout"
    (repo / "checkpoints").mkdir(parents=True)
    (tmp_path / "worktree").mkdir()
    (tmp_path / "worktree" / "checkpoints").symlink_to(repo / "checkpoints")
    monkeypatch.setattr(env, "REPO", repo.resolve())
    assert env.repo_relative(repo / "checkpoints" / "x") == "checkpoints/x"
    assert env.repo_relative(tmp_path / "worktree" / "checkpoints") == "checkpoints"  # through the link
    assert env.repo_relative(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")

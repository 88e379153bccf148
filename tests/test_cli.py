"""The command line, as a user runs it: ``python -m emolib …`` in a subprocess."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import write_wav


def emolib(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "emolib", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_data_info_counts(emodb_root):
    r = emolib("data", "info", "--root", str(emodb_root))
    assert r.returncode == 0, r.stderr
    for count in ("W anger 127", "L boredom 81", "E disgust 46", "A fear 69", "F happiness 71",
                  "T sadness 62", "N neutral 79", "speakers: 10", "f 302", "m 233"):
        assert count in r.stdout
    assert "535 utterances" in r.stdout


def test_data_info_on_the_synthetic_corpus():
    r = emolib("data", "info", "--corpus", "synthetic")  # generated in the test cache
    assert r.returncode == 0, r.stderr
    assert "corpus: synthetic" in r.stdout and "speakers: 10" in r.stdout
    assert all(f"{e} " in r.stdout for e in ("anger", "boredom", "disgust", "fear", "neutral"))


def test_data_verify_real_corpus(emodb_root):
    r = emolib("data", "verify", "--root", str(emodb_root))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK: 535 files" in r.stdout


def test_data_verify_names_each_bad_file_without_traceback(emodb_root, tmp_path):
    wav = tmp_path / "wav"
    wav.mkdir()
    good = sorted((emodb_root / "wav").glob("03a01*.wav"))
    for p in good:
        shutil.copy(p, wav / p.name)
    blob = (emodb_root / "wav" / "08a01Wa.wav").read_bytes()
    (wav / "08a01Wa.wav").write_bytes(blob[: len(blob) // 3])  # truncated
    t = np.arange(44100) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    write_wav(wav / "09a01Wa.wav", np.stack([tone, tone], axis=1), 44100)  # stereo 44.1 kHz
    (wav / "10a01Wa.wav").write_text("this is a text file, not audio\n")
    write_wav(wav / "my_recording.wav", tone, 16000)  # outside the naming scheme
    r = emolib("data", "verify", "--root", str(tmp_path))
    assert r.returncode != 0
    assert "Traceback" not in r.stdout + r.stderr
    lines = {line.split(":", 1)[0]: line for line in r.stdout.splitlines()}
    assert "truncated" in lines["08a01Wa.wav"]
    assert "2 channel(s) at 44100 Hz" in lines["09a01Wa.wav"]
    assert "not a readable audio file" in lines["10a01Wa.wav"]
    assert "does not follow the EmoDB scheme" in lines["my_recording.wav"]
    assert lines["16b10Tb.wav"].endswith("missing")
    assert not any(p.name in lines for p in good)
    assert f"{len(good)} of 535" in r.stderr


def test_bad_root_is_one_clear_line(tmp_path):
    r = emolib("data", "info", "--root", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(tmp_path) in r.stderr and "EmoDB" in r.stderr


@pytest.mark.parametrize("args, words", [
    (["pretrain", "--device", "bogus", "--fold", "0"], "--device bogus: use cpu, cuda, cuda:N or auto"),
    (["train-final", "--device", "gpu"], "--device gpu: use cpu, cuda, cuda:N or auto"),
    (["predict", "x.wav", "--jobs", "0"], "--jobs 0: give 1 or more feature processes"),
    (["train-final", "--model", "fusion_moco"], "--model 'fusion_moco': choose 'best' or one of"),
])
def test_bad_arguments_are_one_line_before_any_work(args, words):
    r = emolib(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"error: {r.stderr.strip()[7:]}"] and words in r.stderr


def test_download_refuses_a_non_empty_destination(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    r = emolib("data", "download", "--dest", str(tmp_path))
    assert r.returncode == 2 and "not an empty folder" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_bench_features_reports_a_ratio(emodb_root, tmp_path):
    wav = tmp_path / "wav"
    wav.mkdir()
    for p in sorted((emodb_root / "wav").glob("03*.wav"))[:12]:
        shutil.copy(p, wav / p.name)
    r = emolib("bench", "features", "--root", str(tmp_path))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    import json
    result = json.loads(last)
    assert result["benchmark"] == "features" and result["files"] == 12
    assert result["speedup"] > 1  # the cache must not be slower than computing
    from emolib.core import env

    assert not (env.RESULTS / "bench_features.json").exists()  # only augment and pretrain keep a line


def test_bench_augment_reports_both_rates_and_their_ratio():
    import json

    from emolib.core import env

    committed = env.RESULTS / "bench_augment.json"
    before = committed.read_bytes() if committed.is_file() else None
    r = emolib("bench", "augment", "--corpus", "synthetic", "--n", "6", "--seconds", "0.5")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "augment" and result["utterances"] == 6
    assert result["baseline_pairs_per_s"] > 0 and result["ours_pairs_per_s"] > 0
    ratio = result["ours_pairs_per_s"] / result["baseline_pairs_per_s"]
    assert result["speedup"] == pytest.approx(ratio, rel=0.01, abs=0.1)
    assert "pairs/s" in r.stdout.splitlines()[0]
    assert (committed.read_bytes() if committed.is_file() else None) == before  # only the default EmoDB run writes it


def test_only_a_default_run_on_emodb_keeps_its_benchmark_line(tmp_path, monkeypatch):
    import json

    from emolib.app import bench
    from emolib.core import env

    monkeypatch.setattr(env, "RESULTS", tmp_path)
    line = {"benchmark": "augment", "speedup": 3.0, "settings": dict(bench.DEFAULTS["augment"])}
    bench._keep("augment", {**line, "settings": {"n": 6, "seconds": 0.5}}, "emodb")
    bench._keep("augment", line, "synthetic")
    assert not list(tmp_path.iterdir())
    bench._keep("features", {"benchmark": "features", "speedup": 9.0}, "emodb")  # no defaults: never kept
    assert not list(tmp_path.iterdir())
    bench._keep("augment", line, "emodb")
    assert json.loads((tmp_path / "bench_augment.json").read_text()) == line


def test_bench_pretrain_reports_rates_ratio_and_memory():
    import json

    from emolib.core import env

    committed = env.RESULTS / "bench_pretrain.json"
    before = committed.read_bytes() if committed.is_file() else None
    r = emolib("bench", "pretrain", "--corpus", "synthetic", "--n", "4", "--seconds", "0.5", "--report-steps", "1")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "pretrain" and result["utterances"] == 4
    assert result["settings"] == {"n": 4, "seconds": 0.5, "report_steps": 1}
    assert result["speedup"] == pytest.approx(result["ours_samples_per_s"] / result["baseline_samples_per_s"],
                                              rel=0.01, abs=0.1)
    assert 0 < result["peak_rss_gb_bs256"] < 64
    # only the default run on EmoDB writes the file the README quotes
    assert (committed.read_bytes() if committed.is_file() else None) == before


def test_readme_test_command_is_what_ci_runs():
    from emolib.core.env import REPO

    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    command = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert command in readme
    assert "export EMODB_ROOT=../shared/emodb" in ci and "export EMOLIB_PROFILE=smoke" in ci


def test_results_table_includes_the_reports_quoted_numbers():
    r = emolib("results", "--all", "--profile", "full", "--corpus", "emodb")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("quoted from the report") == 6
    md = emolib("results", "--profile", "full", "--markdown")
    assert md.returncode == 0 and md.stdout.startswith("| run | method | protocol |")
    assert "51.2 %" in md.stdout


def test_results_shows_the_headline_first_within_40_lines_and_120_columns():
    from emolib.core.env import RESULTS
    from emolib.evaluation import tables

    r = emolib("results", "--profile", "full", "--corpus", "emodb")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 120
    head = tables.headline(RESULTS)
    best = head.loc[head.system.str.startswith("ComParE"), "run raw"].item()
    assert best in r.stdout and "--all" in r.stdout
    some = emolib("results", "fusion_*_spknorm", "--profile", "full")
    assert some.returncode == 0 and all(line.split()[0].startswith("fusion_") for line in some.stdout.splitlines()[1:])
    none = emolib("results", "no_such_run*", "--profile", "full")
    assert none.returncode == 0 and none.stdout.startswith("no runs match")


def test_results_text_is_in_percent_one_run_a_line_within_120_columns():
    r = emolib("results", "--all", "--profile", "full", "--corpus", "emodb", "--protocol", "si5")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 120
    row = next(line for line in lines if line.startswith("baseline_compare_logreg "))
    from emolib.core.env import RESULTS
    from emolib.evaluation.results import recompute

    assert f"{100 * recompute('baseline_compare_logreg', RESULTS)['uar']:.1f}" in row.split()  # a percentage
    assert row.split()[-1] == "535" and "quoted from the report" not in r.stdout  # n as an integer; filtered
    assert all(" leaky " not in line for line in lines)


def test_results_says_when_a_profile_has_no_runs_yet(tmp_path, monkeypatch, capsys):
    from emolib.cli import main
    from emolib.core import env

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    assert main(["results", "--profile", "smoke", "--corpus", "emodb"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("no runs yet in ") and "smoke" in first and "reproduce" in first
    assert main(["results", "--all", "--profile", "smoke", "--corpus", "emodb"]) == 0
    assert capsys.readouterr().out.startswith("no runs yet")


def test_every_committed_row_recomputes_from_its_predictions():
    # CI runs the smoke profile, so this is where the committed full-profile rows are checked:
    # a hand edit of a number, or a prediction from the wrong fold, fails here.
    r = emolib("results", "--verify", "--profile", "full", "--corpus", "emodb")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("OK: ") and "recompute" in r.stdout


def test_results_verify_names_a_row_that_does_not_recompute(tmp_path):
    import json

    import pandas as pd

    from emolib.evaluation import results

    folder = tmp_path / "results"
    pred = pd.DataFrame({"file": ["03a01Fa.wav", "08a01Fd.wav"], "speaker": ["03", "08"], "fold": [0, 0],
                         "y_true": ["happiness", "happiness"], "y_pred": ["happiness", "anger"]})
    results.write_result("toy", pred, method="m", protocol="SI-5", profile="full", corpus="emodb",
                         speaker_norm=False, wall_s=0, folder=folder)
    row = json.loads((folder / "toy.json").read_text())
    (folder / "toy.json").write_text(json.dumps({**row, "wa": 1.0}))
    code = subprocess.run([sys.executable, "-c", "import sys; from emolib import cli; from emolib.core import env; "
                           f"env.RESULTS = __import__('pathlib').Path({str(folder)!r}); "
                           "sys.exit(cli.main(['results', '--verify', '--profile', 'full', '--corpus', 'emodb']))"],
                          capture_output=True, text=True, timeout=120)
    assert code.returncode == 1 and code.stderr.startswith("FAILED: toy: wa")


def _subparsers(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _subparsers(sub, prefix + (name,))
                else:
                    yield " ".join(prefix + (name,)), sub


def test_every_command_has_an_example_in_its_help():
    from emolib.cli import build_parser

    commands = dict(_subparsers(build_parser()))
    assert {"data info", "reproduce", "pretrain", "predict", "train-final", "bench"} <= set(commands)
    def text(sub):
        return " ".join(sub.format_help().split())

    missing = [name for name, sub in commands.items()
               if "Example" not in text(sub) or f"python -m emolib {name} " not in text(sub) + " "]
    assert not missing, missing


def test_pretrain_pretext_choices_are_the_librarys():
    """The CLI spells out the pretext choices (it stays importable without torch); they must be the library's."""
    from emolib.cli import build_parser
    from emolib.ssl import shortcut

    pre = dict(_subparsers(build_parser()))["pretrain"]
    choices = {a.dest: tuple(a.choices) for a in pre._actions if a.choices}
    assert choices["input_norm"] == shortcut.INPUT_NORM and choices["batch_by"] == shortcut.BATCH_BY


def test_pretrain_flags_set_every_pretrain_config_field():
    """The command builds a PretrainConfig from flags named after its fields; none may be left out."""
    from dataclasses import fields

    from emolib.cli import build_parser
    from emolib.cli.pretrain import CONFIG_FLAGS
    from emolib.ssl.pretrain_config import PretrainConfig

    assert sorted(CONFIG_FLAGS) == sorted(f.name for f in fields(PretrainConfig))
    pre = dict(_subparsers(build_parser()))["pretrain"]
    assert set(CONFIG_FLAGS) <= {a.dest for a in pre._actions}

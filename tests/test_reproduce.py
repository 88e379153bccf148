"""``python -m emolib reproduce``: executes notebooks in order, writes back only on success."""
import os

import nbformat
import pytest

import emolib.app.reproduce
from emolib.app.reproduce import reproduce
from emolib.core.env import numbered_notebooks


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_runs_in_order_in_place_with_profile_and_corpus(tmp_path, monkeypatch):
    from emolib.core import env

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")  # the full run's timings.json goes here
    first = _notebook(tmp_path / "01_a.ipynb", "import os, pathlib\n"
                      "pathlib.Path('order.txt').write_text('01')\n"
                      "print(os.environ['EMOLIB_PROFILE'], os.environ['EMOLIB_CORPUS'])")
    second = _notebook(tmp_path / "02_b.ipynb", "import pathlib\n"
                       "p = pathlib.Path('order.txt'); p.write_text(p.read_text() + ' 02')")
    (tmp_path / "notes.ipynb").write_text("not numbered, not run")
    assert numbered_notebooks(tmp_path) == [first, second]
    assert reproduce(profile="full", corpus="emodb", notebooks=[first, second]) == 0
    out = nbformat.read(first, as_version=4).cells[0]
    assert out.execution_count == 1 and out.outputs[0].text == "full emodb\n"
    assert (tmp_path / "order.txt").read_text() == "01 02"  # ran in order, in the notebooks' folder
    assert (tmp_path / "results" / "timings.json").is_file()


def test_failing_cell_leaves_the_notebook_unchanged(tmp_path, capsys):
    path = _notebook(tmp_path / "01_fail.ipynb", "1 + 1", "raise RuntimeError('boom')")
    before = path.read_bytes()
    assert reproduce(profile="smoke", notebooks=[path]) == 1
    assert path.read_bytes() == before
    assert "01_fail.ipynb" in capsys.readouterr().err
    assert not list(tmp_path.glob(".01_fail-*"))


@pytest.mark.parametrize("corpus, variable, printed", [("synthetic", "EMOLIB_CORPUS", "synthetic"),
                                                         ("emodb", "EMOLIB_PROFILE", "smoke")])
def test_smoke_runs_and_other_corpora_never_overwrite_the_committed_notebooks(tmp_path, monkeypatch, corpus,
                                                                              variable, printed):
    import emolib.app.reproduce
    from emolib.core import env

    monkeypatch.setattr(emolib.app.reproduce, "REPO", tmp_path / "repo")
    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    path = _notebook(tmp_path / "01_a.ipynb", f"import os; print(os.environ['{variable}'])")
    before = path.read_bytes()
    assert reproduce(profile="smoke", corpus=corpus, notebooks=[path]) == 0
    assert path.read_bytes() == before
    out = nbformat.read(tmp_path / "repo" / "build" / f"{corpus}-smoke" / "01_a.ipynb", as_version=4)
    assert out.cells[0].outputs[0].text == f"{printed}\n"


def test_pytest_defaults_to_the_smoke_profile():
    """The root conftest.py (which pytest loads first) makes a plain ``pytest`` run smoke,
    unless EMOLIB_PROFILE is set."""
    import subprocess
    import sys

    from emolib.core.env import REPO

    code = ("import os, runpy; runpy.run_path('conftest.py'); from emolib.core import env; "
            "print(os.environ['EMOLIB_PROFILE'], env.profile())")
    environ = {k: v for k, v in os.environ.items() if k != "EMOLIB_PROFILE"}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=environ, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.split() == ["smoke", "smoke"], r.stderr
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**environ, "EMOLIB_PROFILE": "full"},
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["full", "full"], r.stderr


def test_smoke_runs_and_other_corpora_get_their_own_output_folders(monkeypatch):
    from emolib.core.env import FIGURES, RESULTS, figures_dir, run_dir

    assert figures_dir("emodb", "full") == FIGURES
    assert figures_dir("synthetic", "full") == FIGURES / "synthetic"
    assert run_dir(RESULTS, "emodb", "smoke") == RESULTS / "smoke"
    assert run_dir(RESULTS, "synthetic", "smoke") == RESULTS / "synthetic-smoke"
    monkeypatch.setenv("EMOLIB_CORPUS", "synthetic")
    monkeypatch.setenv("EMOLIB_PROFILE", "full")
    assert figures_dir() == FIGURES / "synthetic"


def test_committed_notebooks_carry_no_widget_state():
    """Widget state would store the players' audio (EmoDB) inside the notebooks."""
    import nbformat

    for path in numbered_notebooks():
        assert "widgets" not in nbformat.read(path, as_version=4).metadata, path.name


def test_only_and_from_choose_part_of_the_pipeline(tmp_path):
    from emolib.app.reproduce import select
    from emolib.core.errors import EmolibError

    paths = [_notebook(tmp_path / f"0{i}_n{i}.ipynb", "1") for i in (1, 2, 3)]
    assert select(paths, only=["02"]) == [paths[1]]
    assert select(paths, only=["3", "01_n1"]) == [paths[0], paths[2]]
    assert select(paths, start="02") == paths[1:]
    assert select(paths) == paths
    with pytest.raises(EmolibError, match="no notebook '09'; choose from 01_n1, 02_n2, 03_n3"):
        select(paths, only=["09"])


def test_timings_are_recorded_per_notebook(tmp_path, monkeypatch):
    import json

    from emolib.core import env

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    monkeypatch.setattr("emolib.app.reproduce.REPO", tmp_path / "repo")
    first = _notebook(tmp_path / "01_a.ipynb", "1")
    second = _notebook(tmp_path / "02_b.ipynb", "2")
    assert reproduce(profile="smoke", notebooks=[first, second]) == 0
    assert reproduce(profile="smoke", notebooks=[first, second], only=["02"]) == 0
    entries = json.loads((tmp_path / "results" / "smoke" / "timings.json").read_text())
    assert [e["notebook"] for e in entries] == ["01_a", "02_b"]  # 02's entry replaced, 01's kept
    assert all(e["profile"] == "smoke" and e["seconds"] > 0 and e["device"] for e in entries)
    assert [c["code"] for c in entries[1]["slowest_cells"]] == ["2"]  # the code cells' own times


@pytest.mark.parametrize("source, words", [("import time; time.sleep(30)", "ran past the 2 s cell timeout"),
                                           ("import os; os._exit(1)", "the kernel died")])
def test_timeouts_and_dead_kernels_are_one_line(tmp_path, monkeypatch, capsys, source, words):
    monkeypatch.setitem(emolib.app.reproduce.CELL_TIMEOUT, "smoke", 2)
    monkeypatch.setattr("emolib.app.reproduce.REPO", tmp_path / "repo")
    path = _notebook(tmp_path / "01_stuck.ipynb", "1 + 1", source)
    before = path.read_bytes()
    assert reproduce(profile="smoke", notebooks=[path]) == 1
    err = capsys.readouterr().err.strip()  # the progress bar, then the error
    line = err.splitlines()[-1]
    assert "Traceback" not in err and line.startswith("01_stuck.ipynb: ") and "code cell 2 of 2" in line and words in line
    assert path.read_bytes() == before


def test_device_reaches_the_kernels_and_the_timings(tmp_path, monkeypatch, capsys):
    import json

    from emolib.core import env

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    monkeypatch.setattr("emolib.app.reproduce.REPO", tmp_path / "repo")
    path = _notebook(tmp_path / "01_a.ipynb", "import os; print(os.environ['EMOLIB_DEVICE'])")
    assert reproduce(profile="smoke", notebooks=[path], device_request="cpu") == 0
    out = nbformat.read(tmp_path / "repo" / "build" / "emodb-smoke" / "01_a.ipynb", as_version=4)
    assert out.cells[0].outputs[0].text == "cpu\n"
    assert json.loads((tmp_path / "results" / "smoke" / "timings.json").read_text())[0]["device"] == "cpu"
    from emolib.core.errors import EmolibError

    with pytest.raises(EmolibError, match="--device tpu"):
        reproduce(profile="smoke", notebooks=[path], device_request="tpu")


def test_emolib_device_is_the_default_device(monkeypatch):
    from emolib.core.devices import resolve as _device
    from emolib.core.errors import EmolibError

    monkeypatch.setenv("EMOLIB_DEVICE", "cpu")
    assert _device(None).type == "cpu"
    monkeypatch.setenv("EMOLIB_DEVICE", "bogus")
    with pytest.raises(EmolibError, match="--device bogus"):
        _device(None)
    assert _device("cpu").type == "cpu"  # an explicit --device wins


def test_a_damaged_timings_file_is_rewritten(tmp_path):
    import json

    from emolib.app.reproduce import record_timing

    (tmp_path / "timings.json").write_text('{"not": "a list"}')
    record_timing(tmp_path, {"notebook": "01_a", "seconds": 1.0})
    assert json.loads((tmp_path / "timings.json").read_text()) == [{"notebook": "01_a", "seconds": 1.0}]


def test_extended_runs_in_place_and_keeps_the_full_timings_beside_its_own(tmp_path, monkeypatch):
    import json

    from emolib.core import env

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    path = _notebook(tmp_path / "01_a.ipynb", "import os; print(os.environ['EMOLIB_PROFILE'])")
    assert reproduce(profile="full", notebooks=[path]) == 0
    assert reproduce(profile="extended", notebooks=[path]) == 0
    assert nbformat.read(path, as_version=4).cells[0].outputs[0].text == "extended\n"  # in place, like full
    entries = json.loads((tmp_path / "results" / "timings.json").read_text())
    assert [(e["notebook"], e["profile"]) for e in entries] == [("01_a", "extended"), ("01_a", "full")]
    assert all(e["cache"] in ("warm", "cold") for e in entries)


def test_the_timings_table_lists_every_entry_a_total_and_the_notebooks_not_timed(tmp_path, monkeypatch):
    import json

    from emolib.core import env
    from emolib.evaluation import tables

    monkeypatch.setattr(env, "numbered_notebooks", lambda: [tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb"])
    (tmp_path / "timings.json").write_text(json.dumps([
        {"notebook": "01_a", "profile": "full", "device": "cpu", "cache": "cold", "seconds": 90.0,
         "date": "2026-11-26T10:00:00Z", "slowest_cells": [{"cell": 2, "seconds": 60.0, "code": "x = a | b"}]}]))
    table = tables.timings_markdown(tmp_path)
    assert "| 01_a | full | cpu | cold | 1.5 | 2: `x = a / b` (1.0) | 2026-11-26 |" in table
    assert "| **all timed notebooks** | full | cpu | | **1.5** | | |" in table
    assert table.endswith("Not timed yet: 02_b.")


def test_the_run_times_shown_are_the_ones_reproduce_wrote():
    from emolib.core.env import REPO
    from emolib.evaluation import tables

    page = (REPO / "results" / "README.md").read_text()
    start, end = "<!-- timings: python -m emolib results --timings -->", "<!-- /timings -->"
    assert start in page and end in page
    assert page.split(start)[1].split(end)[0].strip() == tables.timings_markdown().strip()
    readme = (REPO / "README.md").read_text()
    assert tables.minutes_sentence() in readme and "took" in tables.minutes_sentence()


def test_each_training_is_one_line_of_the_main_jobs_log_and_never_in_the_notebook(tmp_path, monkeypatch, capsys):
    from emolib.core import env, steps

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    monkeypatch.setattr("emolib.app.reproduce.REPO", tmp_path / "repo")
    path = _notebook(tmp_path / "01_a.ipynb", "from emolib.core import steps\n"
                     "steps.step('Conv1D, whole, SI-5 fold 0', 12.4)\nsteps.step('row cnn_x: UAR 0.500 (cpu)', 60)\n"
                     "print('done')")
    assert reproduce(profile="smoke", notebooks=[path]) == 0
    out = capsys.readouterr().out
    first, second = out.index("Conv1D, whole, SI-5 fold 0: 12 s"), out.index("row cnn_x: UAR 0.500 (cpu): 60 s")
    assert first < second  # in the order they happened, each with the notebook's elapsed time
    cell = nbformat.read(tmp_path / "repo" / "build" / "emodb-smoke" / "01_a.ipynb", as_version=4).cells[0]
    assert [o.text for o in cell.outputs] == ["done\n"]  # the notebook's outputs are the same as without reproduce
    monkeypatch.delenv(steps.ENV, raising=False)
    steps.step("outside reproduce: nowhere")  # no log, no error

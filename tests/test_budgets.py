"""One home for every profile's budgets (emolib.core.budgets): extended = full's budgets + the long studies."""
import pytest

from emolib.core import budgets, env
from emolib.core.errors import EmolibError
from emolib.evaluation import finetune, probes
from emolib.models import cnn
from emolib.ssl import pretrain_config


def test_levels_and_long_studies():
    assert [env.level(p) for p in env.PROFILES] == ["smoke", "full", "full"]
    assert [budgets.runs("report_budget", p) for p in env.PROFILES] == [True, False, True]
    with pytest.raises(KeyError, match="no long study 'nope'"):
        budgets.runs("nope", "full")
    with pytest.raises(EmolibError, match="EMOLIB_PROFILE/argument value 'huge'"):
        env.level("huge")


def test_every_budget_comes_from_settings_and_extended_takes_full_budgets():
    for table in (budgets.PRETRAIN, budgets.PROBE, budgets.FINETUNE, budgets.CONV1D, budgets.CONV1D_REPORT):
        assert set(table) == {"smoke", "full"}
    assert set(budgets.CELL_TIMEOUT) == set(env.PROFILES)
    for p in ("smoke", "full"):
        assert pretrain_config.profile_config(p).epochs == budgets.PRETRAIN[p]["epochs"]
        assert probes.budget(p) == budgets.PROBE[p]
        assert finetune.finetune_config(p).epochs == budgets.FINETUNE[p]["epochs"]
        assert cnn.budget(p).epochs == budgets.CONV1D[p]["epochs"]
        assert cnn.report_budget(p).epoch_samples == budgets.CONV1D_REPORT[p]["epoch_samples"]
    assert pretrain_config.profile_config("extended") == pretrain_config.profile_config("full")
    assert cnn.budget("extended") == cnn.budget("full")
    assert probes.budget("extended") == probes.budget("full")


def test_extended_writes_where_full_does(tmp_path):
    assert env.run_dir(tmp_path, "emodb", "extended") == env.run_dir(tmp_path, "emodb", "full") == tmp_path
    assert env.run_dir(tmp_path, "emodb", "smoke") == tmp_path / "smoke"


def test_quality_check_floors_and_the_notebooks_read_them_from_settings():
    import json

    assert set(budgets.CHECKS["smoke"]) == set(budgets.CHECKS["full"])
    assert budgets.check("probe_uar", "extended") == budgets.check("probe_uar", "full") == budgets.CHECKS["full"]["probe_uar"]
    assert all(0 <= v < 1 for floors in budgets.CHECKS.values() for v in floors.values())
    assert all(1 / 7 <= v for k, v in budgets.CHECKS["full"].items())  # every full check is above chance
    with pytest.raises(KeyError, match="no quality check 'nope'"):
        budgets.check("nope", "smoke")
    # no notebook keeps a per-profile table of its own
    for path in sorted(env.REPO.glob("notebooks/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            assert '{"smoke":' not in "".join(cell["source"]), path.name


def test_a_copy_installed_outside_its_repository_says_so_before_writing(tmp_path, monkeypatch):
    assert env.FROM_CHECKOUT  # the tests run from the checkout
    monkeypatch.setattr(env, "FROM_CHECKOUT", False)
    with pytest.raises(EmolibError, match=r"not installed from its repository, so there is no results/ here.*pip install -e \."):
        env.run_dir(env.RESULTS, "emodb", "full")
    assert env.run_dir(tmp_path, "emodb", "full") == tmp_path  # a folder outside the repository is the caller's

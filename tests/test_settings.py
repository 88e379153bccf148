"""One home for every profile's budgets (emolib.settings): extended = full's budgets + the long studies."""
import pytest

from emolib import config, finetune, pretrain_config, probes, segments, settings
from emolib.errors import EmolibError


def test_levels_and_long_studies():
    assert [config.level(p) for p in config.PROFILES] == ["smoke", "full", "full"]
    assert [settings.runs("report_budget", p) for p in config.PROFILES] == [True, False, True]
    with pytest.raises(KeyError, match="no long study 'nope'"):
        settings.runs("nope", "full")
    with pytest.raises(EmolibError, match="EMOLIB_PROFILE/argument value 'huge'"):
        config.level("huge")


def test_every_budget_comes_from_settings_and_extended_takes_full_budgets():
    for table in (settings.PRETRAIN, settings.PROBE, settings.FINETUNE, settings.CONV1D, settings.CONV1D_REPORT):
        assert set(table) == {"smoke", "full"}
    assert set(settings.CELL_TIMEOUT) == set(config.PROFILES)
    for p in ("smoke", "full"):
        assert pretrain_config.profile_config(p).epochs == settings.PRETRAIN[p]["epochs"]
        assert probes.budget(p) == settings.PROBE[p]
        assert finetune.finetune_config(p).epochs == settings.FINETUNE[p]["epochs"]
        assert segments.budget(p).epochs == settings.CONV1D[p]["epochs"]
        assert segments.report_budget(p).epoch_samples == settings.CONV1D_REPORT[p]["epoch_samples"]
    assert pretrain_config.profile_config("extended") == pretrain_config.profile_config("full")
    assert segments.budget("extended") == segments.budget("full")
    assert probes.budget("extended") == probes.budget("full")


def test_extended_writes_where_full_does(tmp_path):
    assert config.run_dir(tmp_path, "emodb", "extended") == config.run_dir(tmp_path, "emodb", "full") == tmp_path
    assert config.run_dir(tmp_path, "emodb", "smoke") == tmp_path / "smoke"


def test_quality_check_floors_and_the_notebooks_read_them_from_settings():
    import json

    assert set(settings.CHECKS["smoke"]) == set(settings.CHECKS["full"])
    assert settings.check("probe_uar", "extended") == settings.check("probe_uar", "full") == settings.CHECKS["full"]["probe_uar"]
    assert all(0 <= v < 1 for floors in settings.CHECKS.values() for v in floors.values())
    assert all(1 / 7 <= v for k, v in settings.CHECKS["full"].items())  # every full check is above chance
    with pytest.raises(KeyError, match="no quality check 'nope'"):
        settings.check("nope", "smoke")
    # no notebook keeps a per-profile table of its own
    for path in sorted(config.REPO.glob("notebooks/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            assert '{"smoke":' not in "".join(cell["source"]), path.name


def test_a_copy_installed_outside_its_repository_says_so_before_writing(tmp_path, monkeypatch):
    assert config.FROM_CHECKOUT  # the tests run from the checkout
    monkeypatch.setattr(config, "FROM_CHECKOUT", False)
    with pytest.raises(EmolibError, match=r"not installed from its repository, so there is no results/ here.*pip install -e \."):
        config.run_dir(config.RESULTS, "emodb", "full")
    assert config.run_dir(tmp_path, "emodb", "full") == tmp_path  # a folder outside the repository is the caller's

"""Degraded recordings: each condition does what it says (SNR, band limits, RT60, level), is seeded, and the
robustness study's babble never holds a test speaker."""
import numpy as np
import pytest

from emolib.augmentation import degrade as D

SR = 16_000


def _voice(seconds=2.0, f0=140.0, seed=0):
    """A harmonic 'voice' with a syllable envelope and a little noise: enough spectrum to filter."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 40) if k * f0 < 7_500)
    y *= 0.5 * (1 - np.cos(2 * np.pi * 3 * t)) / 2
    return (0.2 * y / np.abs(y).max() + 0.001 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def _band_energy(y, lo, hi):
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return spec[(f >= lo) & (f < hi)].sum()


@pytest.mark.parametrize("name", ["white_10db", "pink_0db", "babble_20db", "white_20db"])
def test_noise_is_mixed_at_the_requested_snr(name):
    y = _voice()
    sources = [_voice(1.3, f0=100 + 20 * i, seed=i) for i in range(8)]
    out = D.CONDITIONS[name].apply(y, babble_sources=sources)
    assert D.snr_db(y, out) == pytest.approx(D.CONDITIONS[name].params["snr"], abs=0.01)
    assert out.dtype == np.float32 and len(out) == len(y)


def test_pink_and_brown_noise_fall_with_frequency_and_white_does_not():
    rng = np.random.default_rng(0)
    for make, slope in ((D.white, 0), (D.pink, -1), (D.brown, -2)):
        n = make(SR * 8, rng)
        low, high = _band_energy(n, 200, 400) / 200, _band_energy(n, 3_200, 6_400) / 3_200  # power per Hz
        expected = -10 * slope * np.log10(np.sqrt(3_200 * 6_400) / np.sqrt(200 * 400))  # 1/f^|slope| at the centres
        assert 10 * np.log10(low / high) == pytest.approx(expected, abs=1.5)


def test_the_telephone_keeps_300_to_3400_hz_only():
    y = _voice()
    out = D.CONDITIONS["telephone"].apply(y)
    inside = _band_energy(out, 400, 3_200)
    assert _band_energy(out, 4_000, 8_000) < 1e-4 * inside  # nothing above the 8 kHz line's Nyquist
    assert _band_energy(out, 20, 150) < 1e-2 * inside         # the band-pass's low edge
    assert len(out) == len(y) and np.corrcoef(out, y)[0, 1] > 0.5


@pytest.mark.parametrize("rt60", [0.3, 0.6, 1.0])
def test_rooms_have_the_requested_reverberation_time(rt60):
    ir = D.impulse_response(rt60, np.random.default_rng(1))
    assert D.rt60(ir) == pytest.approx(rt60, rel=0.12)
    y = _voice()
    out = D.reverberate(y, rt60, np.random.default_rng(1))
    assert D.power(out) == pytest.approx(D.power(y), rel=1e-4)  # the level is kept


def test_codecs_gain_and_clipping():
    y = _voice()
    for name in ("ogg", "mp3"):
        out = D.CONDITIONS[name].apply(y)
        assert len(out) == len(y) and not np.allclose(out, y, atol=1e-4)
    assert np.allclose(D.CONDITIONS["gain_plus20db"].apply(y), 10 * y, rtol=1e-5)
    assert np.allclose(D.CONDITIONS["gain_minus20db"].apply(y), y / 10, rtol=1e-5)
    clipped = D.CONDITIONS["clipping"].apply(y)
    assert np.abs(clipped).max() == pytest.approx(0.25 * np.abs(y).max(), rel=1e-6)


def test_every_condition_is_seeded_and_differs_between_files():
    y, other = _voice(seed=0), _voice(seed=1)
    sources = [_voice(1.3, f0=100 + 20 * i, seed=i) for i in range(8)]
    for c in [*D.CONDITIONS.values(), *D.TRAINING.values()]:
        a, b = c.apply(y, babble_sources=sources), c.apply(y, babble_sources=sources)
        assert np.array_equal(a, b), c.name
        if c.family == "noise":
            assert not np.allclose(a - y, c.apply(other, babble_sources=sources) - other), c.name
            assert not np.array_equal(a, c.apply(y, seed=1, babble_sources=sources)), c.name


def test_training_conditions_never_repeat_a_test_parameter():
    test = {(c.family, tuple(sorted(c.params.items()))) for c in D.CONDITIONS.values()}
    assert not test & {(c.family, tuple(sorted(c.params.items()))) for c in D.TRAINING.values()}
    kinds = {c.params.get("noise") for c in D.TRAINING.values()} - {None}
    assert kinds.isdisjoint({c.params.get("noise") for c in D.CONDITIONS.values()})  # other noise sources
    assert set(D.TARGET) <= set(D.CONDITIONS)


def test_babble_is_mixed_from_the_folds_training_speakers_only(synthetic):
    from emolib.data.splits import folds
    from emolib.systems import conditions

    for fold in folds(synthetic, "si5"):
        names, waves = conditions.babble_sources(synthetic, fold)
        speakers = {n[:2] for n in names}
        assert speakers.isdisjoint(fold.test_speakers) and len(waves) == len(fold.train)


@pytest.fixture(scope="module")
def synthetic():
    from emolib.data import corpus

    return corpus.load_corpus("synthetic")


def test_robustness_rows_recompute_with_probabilities_and_calibration(synthetic, tmp_path, monkeypatch):
    from emolib.core import env
    from emolib.evaluation import metrics, results
    from emolib.studies import robustness

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    small = synthetic.groupby(["speaker", "emotion"]).head(1).reset_index(drop=True)  # every speaker and emotion once
    small.attrs = synthetic.attrs
    rows = [*robustness.run_system(small, "egemaps", ["telephone"], log=None),
            *robustness.run_system(small, "egemaps", ["telephone"], mct=True, log=None)]
    assert [r["run"] for r in rows] == ["robust_egemaps_clean", "robust_egemaps_telephone",
                                        "robust_egemaps_mct_clean", "robust_egemaps_mct_telephone"]
    folder = env.run_dir(env.RESULTS)
    assert results.verify_results(folder) == 4  # scores, folds, probabilities and calibration recompute
    pred = results.load_predictions("robust_egemaps_mct_telephone", folder)
    np.testing.assert_allclose(metrics.probabilities(pred).sum(axis=1), 1.0, atol=1e-6)
    assert rows[-1]["config"]["training"] == "multi-condition" and rows[-1]["config"]["params"]["high"] == 3_400
    assert len(rows[-1]["calibration"]["temperature"]) == 5
    table = robustness.table(folder)
    assert list(table.columns) == ["clean", "telephone"] and len(table) == 2
    # the same seed gives the same degraded audio, so the same numbers
    again = robustness.run_system(small, "egemaps", ["telephone"], log=None)
    assert [r["uar"] for r in again] == [r["uar"] for r in rows[:2]]

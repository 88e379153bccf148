"""Contracts of the augmentations: shapes, dtypes, finiteness, seeding, identity at neutral
parameters, and that each does what its name says."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from emolib.augmentation import spectrogram as A
from emolib.augmentation import views as V
from emolib.augmentation import report as W
from emolib.data.features import FeatureCache, LogMelConfig, Standardizer

SR = 16_000


def tone(f0=200.0, seconds=1.0, harmonics=5, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return sum(0.3 / h * np.sin(2 * np.pi * f0 * h * t) for h in range(1, harmonics + 1)).astype(np.float32)


def fundamental(y, sr=SR, lo=100.0, hi=400.0):
    """Frequency of the strongest spectral peak in [lo, hi] Hz, to a few hundredths of a Hz
    (zero-padded FFT with a Hann window, parabolic interpolation)."""
    n = 1 << 20
    mag = np.abs(np.fft.rfft(y * np.hanning(len(y)), n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    band = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    i = band[np.argmax(mag[band])]
    a, b, c = np.log(mag[i - 1:i + 2])
    return freqs[i] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0])


def semitones(f, f_ref):
    return 12 * np.log2(f / f_ref)


WAVEFORM_AUGS = {
    "noise": lambda y, rng, **kw: W.add_noise(y, rng, **kw),
    "stretch": lambda y, rng, **kw: W.time_stretch(y, **kw),
    "shift": lambda y, rng, **kw: W.shift(y, rng, **kw),
    "pitch": lambda y, rng, **kw: W.pitch_shift(y, **kw),
}
NEUTRAL = {"noise": {"level": 0}, "stretch": {"rate": 1}, "shift": {"limit": 0},
           "pitch": {"semitones": 0}}


@pytest.mark.parametrize("name", WAVEFORM_AUGS)
def test_waveform_augmentation_contract(name):
    y = tone(seconds=0.8)
    aug = WAVEFORM_AUGS[name]
    out = aug(y, np.random.default_rng(3))
    assert out.dtype == np.float32 and out.ndim == 1 and np.isfinite(out).all()
    assert not np.array_equal(out, y)
    np.testing.assert_array_equal(out, aug(y, np.random.default_rng(3)))  # same seed, same output
    np.testing.assert_array_equal(aug(y, np.random.default_rng(3), **NEUTRAL[name]), y)
    if name != "stretch":
        assert out.shape == y.shape


def test_noise_amplitude_follows_the_report():
    y = tone()
    rng = np.random.default_rng(0)
    u = np.random.default_rng(0).uniform()
    out = W.add_noise(y, rng, level=0.01)
    assert np.std(out - y) == pytest.approx(0.01 * u * y.max(), rel=0.02)
    assert not np.array_equal(out, W.add_noise(y, np.random.default_rng(1)))


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_stretch_changes_duration_by_one_over_rate(rate):
    y = tone(seconds=1.0)
    out = W.time_stretch(y, rate)
    assert len(out) == pytest.approx(len(y) / rate, abs=2)
    with pytest.raises(ValueError, match="rate must be positive"):
        W.time_stretch(y, 0)


def test_shift_is_a_circular_roll_within_the_limit():
    y = np.arange(20_000, dtype=np.float32)
    for seed in range(20):
        out = W.shift(y, np.random.default_rng(seed), limit=5000)
        k = int(np.flatnonzero(out == 0)[0])  # where the first sample went
        assert k <= 5000 or k >= 20_000 - 5000
        np.testing.assert_array_equal(np.sort(out), y)
    np.testing.assert_array_equal(W.roll(y, 3)[:4], [19_997, 19_998, 19_999, 0])


@pytest.mark.parametrize("steps", [0.7, -2.0, 3.0])
def test_pitch_shift_moves_the_fundamental_by_the_requested_semitones(steps):
    y = tone(f0=200.0, seconds=1.0)
    out = W.pitch_shift(y, steps)
    measured = semitones(fundamental(out[2000:-2000]), fundamental(y[2000:-2000]))
    assert measured == pytest.approx(steps, abs=0.1)


def test_report_views_compose_the_recipe():
    y = tone(seconds=0.5)
    recipe = W.ReportRecipe()
    v1 = recipe.view(1, y, np.random.default_rng(0))
    np.testing.assert_array_equal(v1, W.time_stretch(W.add_noise(y, np.random.default_rng(0)), 0.8))
    v2 = recipe.view(2, y, np.random.default_rng(0))
    np.testing.assert_array_equal(v2, W.pitch_shift(W.shift(y, np.random.default_rng(0)), 0.7))
    with pytest.raises(ValueError, match="1 or 2"):
        recipe.view(3, y, np.random.default_rng(0))


def test_report_variants_are_cached_keyed_and_seeded(tmp_path, wav_writer):
    paths = [wav_writer(tmp_path / f"{i}.wav", tone(150 + 50 * i, 0.6), SR) for i in range(2)]
    root = tmp_path / "cache"
    out = W.report_variants(paths, k=2, root=root, progress=False)
    assert set(out) == {1, 2} and len(out[1]) == 2 and len(out[1][0]) == 2
    frames = LogMelConfig().frames(len(tone(seconds=0.6)))
    assert out[2][0][0].shape == (64, frames)  # shift + pitch keep the duration
    assert out[1][0][0].shape[1] == pytest.approx(frames / 0.8, abs=2)  # stretch: 1.25x
    assert not np.array_equal(out[1][0][0], out[1][1][0])  # variants differ
    entries = sorted(root.rglob("*.lm"))
    assert len(entries) == 2 * 2 * 2  # files x views x variants
    # a second call reads the cache: break one entry's payload and it is recomputed, equal
    entries[0].write_bytes(entries[0].read_bytes()[:-8])
    again = W.report_variants(paths, k=2, root=root, progress=False)
    for v in (1, 2):
        for a, b in zip(sum(out[v], []), sum(again[v], [])):
            np.testing.assert_array_equal(a, b)
    other = W.report_variants(paths, k=1, seed=1, root=root, progress=False)
    assert not np.array_equal(other[1][0][0], out[1][0][0])  # the seed is part of the key


def batch(n=4, f=64, t=120, seed=0):
    return torch.randn(n, f, t, generator=torch.Generator().manual_seed(seed))


SPEC_AUGS = {
    "gain": (lambda: A.RandomGain(6.0), lambda: A.RandomGain(0.0)),
    "mixup": (lambda: A.LogMixupExp(0.4), lambda: A.LogMixupExp(0.0)),
    "resized_crop": (lambda: A.RandomResizedCrop(),
                     lambda: A.RandomResizedCrop(1.0, (1.0, 1.0), (1.0, 1.0))),
    "specaugment": (lambda: A.SpecAugment(8, 16), lambda: A.SpecAugment(0, 0)),
}


@pytest.mark.parametrize("name", SPEC_AUGS)
def test_spectrogram_augmentation_contract(name):
    make, neutral = SPEC_AUGS[name]
    x = batch()
    out = make()(x, torch.Generator().manual_seed(5))
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    assert not torch.equal(out, x)
    assert torch.equal(out, make()(x, torch.Generator().manual_seed(5)))
    # the resized crop resamples through a sampling grid: identity up to float rounding
    tol = dict(atol=1e-4, rtol=0) if name == "resized_crop" else {}
    torch.testing.assert_close(neutral()(x, torch.Generator().manual_seed(5)), x, **tol)


def test_time_crops_stay_inside_the_utterance():
    lengths = [50, 96, 300, 1000]
    mels = [np.tile(np.arange(n, dtype=np.float32), (3, 1)) for n in lengths]  # value = frame
    bank = A.MelBank(mels)
    crop = A.RandomTimeCrop(96)
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        out = crop(bank, torch.arange(4), g)
        assert out.shape == (4, 3, 96)
        for row, n in zip(out[:, 0], lengths):
            if n >= 96:  # a contiguous window inside the utterance
                assert row[0] >= 0 and row[-1] <= n - 1
                assert torch.equal(row, row[0] + torch.arange(96.0))
            else:  # shorter: the whole utterance, wrapped
                assert torch.equal(row, torch.arange(96.0) % n)


def test_masks_zero_exactly_the_band_asked_for():
    x = batch(2) + 10  # no zeros to begin with
    out = A.mask(x, 1, torch.tensor([5, 20]), torch.tensor([3, 0]))
    assert (out[0, 5:8] == 0).all() and torch.equal(out[0, :5], x[0, :5]) and torch.equal(out[0, 8:], x[0, 8:])
    assert torch.equal(out[1], x[1])  # width 0: nothing
    out = A.mask(x, 2, torch.tensor([0, 100]), torch.tensor([10, 20]))
    assert (out[0, :, :10] == 0).all() and torch.equal(out[0, :, 10:], x[0, :, 10:])
    assert (out[1, :, 100:] == 0).all() and torch.equal(out[1, :, :100], x[1, :, :100])


def test_gain_is_a_decibel_offset_of_the_log_power():
    x = batch()
    out = A.RandomGain(6.0)(x, torch.Generator().manual_seed(1))
    offsets = (out - x).mean(dim=(1, 2))
    torch.testing.assert_close(out - x, offsets[:, None, None].expand_as(x))
    assert (offsets.abs() <= 6 * np.log(10) / 10 + 1e-6).all()


def test_log_mixup_exp_mixes_powers_and_uses_the_queue():
    x = batch(2)
    mixer = A.LogMixupExp(0.4, queue=8)
    out = mixer(x, torch.Generator().manual_seed(0))
    # each output is log((1-l) e^x + l e^z) with z the other item: between the two in power
    lo, hi = torch.minimum(x, x.flip(0)), torch.maximum(x, x.flip(0))
    assert (out >= lo - 1e-5).all() and (out <= hi + 1e-5).all()
    assert mixer.memory is not None and len(mixer.memory) == 2
    y = batch(2, seed=1)
    out2 = mixer(y, torch.Generator().manual_seed(0))  # mixes with the queue (the x batch)
    assert not torch.equal(out2, y) and len(mixer.memory) == 4


def test_two_views_differ_and_are_seeded():
    rng = np.random.default_rng(0)
    clean = [rng.normal(size=(64, n)).astype(np.float32) for n in (150, 200, 90)]
    std = Standardizer.fit(clean)
    variants = {v: [[m + v for m in clean]] for v in (1, 2)}
    for name in V.RECIPES:
        views = V.TwoViews(clean, std, V.recipe(name), variants=variants)
        v1, v2 = views(torch.arange(3), torch.Generator().manual_seed(0))
        assert v1.shape == v2.shape == (3, 1, 64, 96) and torch.isfinite(v1).all()
        assert not torch.equal(v1[0], v2[0]), name
        w1, w2 = views(torch.arange(3), torch.Generator().manual_seed(0))
        assert torch.equal(v1, w1) and torch.equal(v2, w2)
    with pytest.raises(ValueError, match="report_variants"):
        V.TwoViews(clean, std, V.recipe("report"))
    with pytest.raises(ValueError, match="unknown augmentation recipe 'nope'"):
        V.recipe("nope")


def test_report_variants_feed_the_two_views(tmp_path, wav_writer):
    paths = [wav_writer(tmp_path / f"{i}.wav", tone(150 + 40 * i, 1.2), SR) for i in range(3)]
    cache = FeatureCache(root=tmp_path / "c")
    clean = [cache.get(p) for p in paths]
    variants = W.report_variants(paths, k=1, root=tmp_path / "c", progress=False)
    views = V.TwoViews(clean, Standardizer.fit(clean), V.recipe("report", crop_frames=64),
                       variants=variants)
    idx = torch.tensor([2, 0])
    v1, v2 = views(idx, torch.Generator().manual_seed(0))
    assert v1.shape == v2.shape == (2, 1, 64, 64)
    # with no spectrogram augmentation, each view is a window of its own variant, standardised
    std = views.normalize.std.numpy()
    mean = views.normalize.mean.numpy()
    for which, view in ((1, v1), (2, v2)):
        for b, j in enumerate(idx.tolist()):
            raw = view[b, 0].numpy() * std + mean
            source = variants[which][0][j]
            assert any(np.allclose(source[:, s:s + 64], raw, atol=1e-4)
                       for s in range(source.shape[1] - 63)), (which, j)


def test_view_agreement_scores_recognisable_pairs():
    rng = np.random.default_rng(1)
    profiles = rng.normal(size=(6, 64, 1)).astype(np.float32) * 3
    clean = [np.repeat(p, 100 + 10 * i, axis=1) + 0.01 * rng.normal(size=(64, 100 + 10 * i)).astype(np.float32)
             for i, p in enumerate(profiles)]  # each utterance has its own steady spectrum
    views = V.TwoViews(clean, Standardizer.fit(clean), V.recipe("crop", crop_frames=50))
    r = V.view_agreement(views, torch.arange(6), torch.Generator().manual_seed(0))
    assert r["auc"] == 1.0 and r["top1"] == 1.0 and r["positive"].min() > 0.99
    assert len(r["negative"]) == 6 * 5 and r["negative"].max() < 0.9
    noisy = V.TwoViews(clean, Standardizer.fit(clean), V.recipe("byol-a+masks", crop_frames=50))
    r2 = V.view_agreement(noisy, torch.arange(6), torch.Generator().manual_seed(0))
    assert r2["positive"].mean() < r["positive"].mean()


def test_agreement_study_averages_view_agreement_over_draws_per_recipe():
    rng = np.random.default_rng(2)
    clean = [rng.normal(size=(64, 1)).astype(np.float32) * 3 + rng.normal(size=(64, 80 + 5 * i)).astype(np.float32)
             for i in range(6)]
    std = Standardizer.fit(clean)
    recipes = {"crop": V.recipe("crop", crop_frames=50), "masks": V.recipe("byol-a+masks", crop_frames=50)}
    table, sims = V.agreement_study(clean, std, recipes, draws=2)
    assert list(table.index) == ["crop", "masks"] and list(table.columns) == ["positive", "negative", "auc", "top1"]
    for name, rec in recipes.items():
        each = [V.view_agreement(V.TwoViews(clean, std, rec), torch.arange(6), torch.Generator().manual_seed(d))
                for d in range(2)]
        assert table.loc[name, "auc"] == pytest.approx(np.mean([r["auc"] for r in each]))
        assert table.loc[name, "positive"] == pytest.approx(np.mean([r["positive"].mean() for r in each]))
        first = sims[(sims.recipe == name) & (sims.pair == "negative")].similarity.to_numpy()
        np.testing.assert_allclose(first, each[0]["negative"])  # the similarities are the first draw's

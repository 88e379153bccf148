"""The log-mel front-end, its cache and the normalisation statistics."""
import os

import numpy as np
import pytest

from conftest import write_wav
from emolib.data import features
from emolib.data.features import FeatureCache, LogMelConfig, Standardizer
from emolib.data.splits import speaker_folds


def _tone(seconds=1.0, f0=220.0, sr=16000, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.3 * np.sin(2 * np.pi * f0 * t) + noise).astype(np.float32)


def test_log_mel_shape_dtype_and_frequency_placement():
    cfg = LogMelConfig()
    y = _tone(1.0, 1000.0)
    mel = features.log_mel(y, cfg)
    assert mel.shape == (cfg.n_mels, cfg.frames(len(y))) == (64, 101)
    assert mel.dtype == np.float32 and np.isfinite(mel).all()
    import librosa
    centres = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
    assert abs(centres[mel.mean(axis=1).argmax()] - 1000) < 100


def test_config_key_changes_with_every_setting():
    keys = {LogMelConfig().key(), LogMelConfig(n_mels=80).key(), LogMelConfig(hop_length=320).key(),
            LogMelConfig(fmin=0.0).key()}
    assert len(keys) == 4 and LogMelConfig().key() == LogMelConfig().key()


def test_cache_hit_returns_identical_array_without_recomputing(tmp_path, monkeypatch):
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    cache = FeatureCache(root=tmp_path / "cache")
    first = cache.get(wav)
    monkeypatch.setattr(features, "log_mel", lambda *a, **k: pytest.fail("recomputed a cached entry"))
    assert np.array_equal(cache.get(wav), first)
    assert len(list(cache.dir.iterdir())) == 1 and not list(cache.dir.glob(".tmp-*"))


def test_cache_is_keyed_by_content_not_name(tmp_path):
    wav = write_wav(tmp_path / "a.wav", _tone(f0=220), 16000)
    cache = FeatureCache(root=tmp_path / "cache")
    first = cache.get(wav)
    write_wav(wav, _tone(f0=440), 16000)  # same name, new content
    second = cache.get(wav)
    assert not np.array_equal(first, second)
    assert len(list(cache.dir.glob("*.lm"))) == 2
    copy = write_wav(tmp_path / "b.wav", _tone(f0=440), 16000)  # new name, same content
    assert np.array_equal(cache.get(copy), second) and len(list(cache.dir.glob("*.lm"))) == 2


def test_cache_is_keyed_by_config(tmp_path):
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    a = FeatureCache(LogMelConfig(), root=tmp_path / "cache").get(wav)
    b = FeatureCache(LogMelConfig(n_mels=40), root=tmp_path / "cache").get(wav)
    assert a.shape[0] == 64 and b.shape[0] == 40


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_damaged_entry_is_recomputed_not_trusted(tmp_path, damage):
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    cache = FeatureCache(root=tmp_path / "cache")
    good = cache.get(wav)
    entry = next(cache.dir.glob("*.lm"))
    blob = bytearray(entry.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob[len(blob) // 2] ^= 0xFF
    elif damage == "garbage":
        blob = bytearray(b"not an array at all" * 10)
    else:
        blob = bytearray()
    entry.write_bytes(bytes(blob))
    assert cache.load(entry.stem) is None
    assert np.array_equal(cache.get(wav), good)
    assert cache.load(entry.stem) is not None  # rewritten


def test_failed_write_leaves_no_partial_entry(tmp_path, monkeypatch):
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    cache = FeatureCache(root=tmp_path / "cache")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.get(wav)
    assert list(cache.dir.iterdir()) == []


def test_log_mels_with_and_without_cache_agree(tmp_path):
    paths = [write_wav(tmp_path / f"{i}.wav", _tone(0.5 + i / 4, 200 + 50 * i), 16000) for i in range(3)]
    cached = features.log_mels(paths, cache=FeatureCache(root=tmp_path / "c"), progress=False)
    direct = features.log_mels(paths, cache=False, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(cached, direct))
    assert [m.shape[1] for m in direct] == [LogMelConfig().frames(int((0.5 + i / 4) * 16000)) for i in range(3)]


def test_standardizer_statistics_over_all_frames():
    rng = np.random.default_rng(0)
    mels = [rng.normal(3, 2, (4, n)).astype(np.float32) for n in (10, 50, 7)]
    norm = Standardizer.fit(mels)
    allframes = np.concatenate(mels, axis=1)
    np.testing.assert_allclose(norm.mean, allframes.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(norm.std, allframes.std(axis=1), rtol=1e-4)
    z = np.concatenate([norm(m) for m in mels], axis=1)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-4)
    with pytest.raises(ValueError):
        Standardizer.fit([])


def test_fold_statistics_ignore_held_out_speakers():
    speakers = np.repeat(["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"], 2)
    rng = np.random.default_rng(1)
    mels = [rng.normal(0, 1, (4, 20)).astype(np.float32) for _ in speakers]
    fold = speaker_folds(speakers, "si5")[0]
    before = features.fit_standardizer(mels, fold)
    for i in fold.test:  # anything can happen to the held-out speakers' audio...
        mels[i] = mels[i] + 100
    after = features.fit_standardizer(mels, fold)
    np.testing.assert_array_equal(before.mean, after.mean)  # ...the statistics do not move
    np.testing.assert_array_equal(before.std, after.std)


def _age(path, seconds=60):
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def test_index_spares_rehashing_unchanged_files_across_instances(tmp_path, monkeypatch):
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    _age(wav)
    first = features.log_mels([wav], cache=FeatureCache(root=tmp_path / "c"), progress=False)[0]
    assert (tmp_path / "c" / "index.json").exists()
    monkeypatch.setattr(features, "sha256_file", lambda p: pytest.fail("re-hashed an unchanged file"))
    again = features.log_mels([wav], cache=FeatureCache(root=tmp_path / "c"), progress=False)[0]
    assert np.array_equal(first, again)


def test_index_notices_a_changed_file(tmp_path):
    wav = write_wav(tmp_path / "a.wav", _tone(f0=220), 16000)
    _age(wav, 120)
    first = FeatureCache(root=tmp_path / "c")
    a = features.log_mels([wav], cache=first, progress=False)[0]
    write_wav(wav, _tone(f0=440), 16000)  # same size, new content, new mtime
    _age(wav, 60)
    b = features.log_mels([wav], cache=FeatureCache(root=tmp_path / "c"), progress=False)[0]
    assert not np.array_equal(a, b)
    assert np.array_equal(b, features.log_mels([wav], cache=False, progress=False)[0])


def test_recently_modified_files_are_always_hashed(tmp_path):
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)  # mtime: now
    cache = FeatureCache(root=tmp_path / "c")
    cache.digest(wav)
    assert str(wav.resolve()) not in cache.index


def test_damaged_index_is_ignored(tmp_path):
    wav = write_wav(tmp_path / "a.wav", _tone(), 16000)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "index.json").write_text("{not json")
    arr = features.log_mels([wav], cache=FeatureCache(root=tmp_path / "c"), progress=False)[0]
    assert np.array_equal(arr, features.log_mels([wav], cache=False, progress=False)[0])

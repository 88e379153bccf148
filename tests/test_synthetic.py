"""The synthetic EmoDB-shaped corpus: shape, determinism, audio sanity and learnability."""
import hashlib
import os
import shutil
import subprocess
import sys

import librosa
import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emolib.core.errors import EmolibError
from emolib.data import corpus, emodb, synthetic
from emolib.data.audio import SAMPLE_RATE, load_audio

TEXTS = ("a01", "a02", "b01")  # the defaults


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory):
    return synthetic.make_synthetic_corpus(tmp_path_factory.mktemp("synthetic") / "seed0")


@pytest.fixture(scope="module")
def table(default_corpus):
    return corpus.metadata(default_corpus)


def digests(root, pattern="**/*"):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.glob(pattern)) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path, default_corpus):
    a = synthetic.make_synthetic_corpus(tmp_path / "a", seed=0, texts=("a01",))
    (tmp_path / "b").mkdir()  # an existing empty folder is fine
    b = synthetic.make_synthetic_corpus(tmp_path / "b", seed=0, texts=("a01",))
    assert digests(a) == digests(b)
    assert len(digests(a, "wav/*.wav")) == 10 * 7
    # each file depends only on the seed and its name, not on what else was generated
    assert digests(a, "wav/*a01*.wav") == digests(default_corpus, "wav/*a01*.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary leftovers


def test_rendering_does_not_depend_on_the_process(default_corpus):
    """No per-process randomness (such as Python's hash()) may reach the audio."""
    code = ("import hashlib, sys; from emolib.data import synthetic as s; "
            "y = s.render_utterance('03', 'a01', 'F', s.file_rng(0, '03a01Fa.wav')); "
            "sys.stdout.write(hashlib.sha256(y.tobytes()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    y = synthetic.render_utterance("03", "a01", "F", synthetic.file_rng(0, "03a01Fa.wav"))
    assert out == hashlib.sha256(y.tobytes()).hexdigest()


def test_different_seed_and_version_give_different_files(tmp_path, default_corpus):
    other = synthetic.make_synthetic_corpus(tmp_path / "seed1", seed=1, texts=("a01",),
                                            versions=("a", "b"))
    table = corpus.metadata(other)
    assert len(table) == 10 * 7 * 1 * 2
    assert set(table["version"]) == {"a", "b"} and set(table["text"]) == {"a01"}
    mine, theirs = digests(other, "wav/*a.wav"), digests(default_corpus, "wav/*a01*.wav")
    assert mine.keys() == theirs.keys()
    assert all(mine[name] != theirs[name] for name in mine)
    takes = digests(other, "wav/*.wav")
    assert all(takes[name] != takes[name[:-5] + "b.wav"] for name in mine)
    assert "seed: 1" in (other / "README.md").read_text()


def test_names_and_metadata_follow_emodb(table, default_corpus):
    assert len(table) == 10 * 7 * len(TEXTS) * 1
    parsed = [emodb.parse_name(name) for name in table["file"]]
    assert {u.emotion for u in parsed} == set(emodb.CLASSES)
    assert set(table["speaker"]) == set(emodb.SPEAKERS)
    assert set(table["gender"]) == {"f", "m"}
    assert all(emodb.SPEAKERS[s].gender == g for s, g in zip(table["speaker"], table["gender"]))
    assert set(table["text"]) == set(TEXTS) and set(table["version"]) == {"a"}
    assert (table.groupby(["speaker", "emotion"], observed=True).size() == len(TEXTS)).all()
    readme = (default_corpus / "README.md").read_text()
    assert "SYNTHETIC" in readme and "not EmoDB" in readme.replace("NOT", "not")
    assert "seed: 0" in readme


def test_audio_is_plausible_speech_shaped(table):
    for path in table["path"]:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
        y = load_audio(path)
        assert np.all(np.isfinite(y))
        assert 0.05 < np.max(np.abs(y)) < 0.9  # clearly audible, never clipping
    assert table["duration"].between(1.0, 7.0).all()


def test_slow_emotions_are_longer_than_fast_ones(table):
    mean = table.groupby(["text", "emotion"], observed=True)["duration"].mean().unstack()
    slow = mean[["sadness", "boredom"]].mean(axis=1)
    fast = mean[["anger", "fear"]].mean(axis=1)
    assert (slow > 1.2 * fast).all(), mean


def features(y):
    mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=400, hop_length=160,
                                         n_mels=64)
    logmel = librosa.power_to_db(mel)
    return np.concatenate([logmel.mean(axis=1), logmel.std(axis=1),
                           [len(y) / SAMPLE_RATE, np.sqrt(np.mean(y**2))]])


def test_emotions_are_learnable_speaker_independently(table):
    x = np.stack([features(load_audio(p)) for p in table["path"]])
    y = table["emotion"].astype(str).to_numpy()
    test = table["speaker"].isin(["03", "08"]).to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x[~test], y[~test])
    score = balanced_accuracy_score(y[test], model.predict(x[test]))
    assert score >= 0.6, f"balanced accuracy {score:.2f} on held-out speakers 03 and 08"


def test_refuses_a_non_empty_destination(tmp_path):
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(EmolibError, match="taken"):
        synthetic.make_synthetic_corpus(dest)
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_rejects_unknown_texts_and_bad_versions(tmp_path):
    with pytest.raises(EmolibError, match="z99"):
        synthetic.make_synthetic_corpus(tmp_path / "x", texts=("z99",))
    with pytest.raises(EmolibError, match="versions"):
        synthetic.make_synthetic_corpus(tmp_path / "x", versions=("A",))
    assert not (tmp_path / "x").exists()


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) > 5:
            raise KeyboardInterrupt
        return np.full(SAMPLE_RATE, 0.1, dtype=np.float32)

    monkeypatch.setattr(synthetic, "render_utterance", failing)
    with pytest.raises(KeyboardInterrupt):
        synthetic.make_synthetic_corpus(tmp_path / "dest")
    assert list(tmp_path.iterdir()) == []


def test_ensure_uses_the_cache_and_generates_only_when_missing(tmp_path, monkeypatch,
                                                               default_corpus):
    monkeypatch.setenv("EMOLIB_CACHE", str(tmp_path))
    made = []

    def fake_make(dest, seed):
        made.append(seed)
        shutil.copytree(default_corpus, dest)

    monkeypatch.setattr(synthetic, "make_synthetic_corpus", fake_make)
    assert synthetic.ensure_synthetic_corpus(seed=0) == tmp_path / "synthetic-seed0"
    assert synthetic.ensure_synthetic_corpus(seed=0) == tmp_path / "synthetic-seed0"
    assert made == [0]
    table = corpus.load_corpus("synthetic")
    assert table.attrs["corpus"] == "synthetic" and len(table) == 10 * 7 * len(TEXTS)
    assert made == [0]

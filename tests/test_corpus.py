"""EmoDB file names, the metadata table, finding the corpus, and manifest verification."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emolib.core.errors import CorpusNotFoundError, FileNameError
from emolib.core.files import sha256_file
from emolib.data import corpus, download, emodb

# Documented EmoDB facts (Burkhardt et al. 2005): utterances per emotion letter.
EMOTION_COUNTS = {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
COLUMNS = ["file", "path", "speaker", "gender", "age", "text", "sentence", "gloss",
           "emotion", "letter", "version", "duration", "sample_rate"]


def tone(seconds=0.5, sr=16000, freq=220.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def data_chunk(path: Path) -> tuple[int, int]:
    """(offset, size) of the RIFF data chunk's payload, found by walking the chunks."""
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    pos = 12
    while pos + 8 <= len(raw):
        cid, size = struct.unpack("<4sI", raw[pos:pos + 8])
        if cid == b"data":
            return pos + 8, size
        pos += 8 + size + (size & 1)
    raise AssertionError(f"{path}: no data chunk")


# --- file-name grammar --------------------------------------------------------------------

def test_parse_name_reads_every_part():
    u = emodb.parse_name("03a01Fa.wav")
    assert u == emodb.Utterance(speaker="03", text="a01", letter="F",
                                emotion="happiness", version="a")


def test_parse_name_accepts_a_path(tmp_path):
    assert emodb.parse_name(tmp_path / "sub" / "16b10Td.wav") == emodb.Utterance(
        "16", "b10", "T", "sadness", "d")
    assert emodb.parse_name(str(tmp_path / "08a02Wb.wav")).emotion == "anger"


@pytest.mark.parametrize("letter", list(emodb.EMOTIONS))
def test_parse_name_maps_every_emotion_letter(letter):
    assert emodb.parse_name(f"10b03{letter}c.wav").emotion == emodb.EMOTIONS[letter]


@pytest.mark.parametrize("name, why", [
    ("3a01Fa.wav", "too short"),
    ("003a01Fa.wav", "too long"),
    ("03a01Fab.wav", "two version letters"),
    ("03a01fa.wav", "lowercase emotion letter"),
    ("03a01Xa.wav", "unknown emotion letter"),
    ("01a01Fa.wav", "unknown speaker"),
    ("03a03Fa.wav", "unknown text"),
    ("03a01Fa.mp3", "wrong extension"),
    ("03a01Fa.WAV", "upper-case extension"),
    ("03a01Fa", "no extension"),
])
def test_parse_name_rejects_with_the_file_name(name, why):
    with pytest.raises(FileNameError) as info:
        emodb.parse_name(name)
    assert name in str(info.value), why
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name, part", [
    ("03a01Xa.wav", "'X'"), ("01a01Fa.wav", "'01'"), ("03a03Fa.wav", "'a03'")])
def test_parse_name_says_which_part_is_unknown(name, part):
    with pytest.raises(FileNameError, match=part):
        emodb.parse_name(name)


# --- metadata on the real corpus -------------------------------------------------------------

@pytest.fixture(scope="module")
def table(emodb_root):
    return corpus.metadata(emodb_root)


def test_metadata_has_535_rows_one_per_wav(table, emodb_root):
    assert len(table) == emodb.N_UTTERANCES == 535
    wavs = sorted(p.name for p in (emodb_root / "wav").glob("*.wav"))
    assert list(table["file"]) == wavs
    assert table["file"].is_unique


def test_metadata_columns_exactly_as_documented(table, emodb_root):
    assert list(table.columns) == COLUMNS
    assert table.attrs["root"] == str(emodb_root)


def test_metadata_emotion_counts_match_emodb(table):
    assert table["letter"].value_counts().to_dict() == EMOTION_COUNTS
    by_name = {emodb.EMOTIONS[k]: v for k, v in EMOTION_COUNTS.items()}
    assert table["emotion"].value_counts().to_dict() == by_name
    assert isinstance(table["emotion"].dtype, pd.CategoricalDtype)
    assert list(table["emotion"].cat.categories) == emodb.CLASSES


def test_metadata_speakers_genders_and_ages(table):
    assert sorted(table["speaker"].unique()) == sorted(emodb.SPEAKERS)
    assert len(emodb.SPEAKERS) == 10
    per_speaker = table.groupby("speaker")[["gender", "age"]].agg(set)
    for spk, row in per_speaker.iterrows():
        assert row["gender"] == {emodb.SPEAKERS[spk].gender}
        assert row["age"] == {emodb.SPEAKERS[spk].age}
    genders = table.drop_duplicates("speaker")["gender"].value_counts().to_dict()
    assert genders == {"f": 5, "m": 5}


def test_metadata_rows_agree_with_their_file_names(table):
    for row in table.itertuples():
        u = emodb.parse_name(row.file)
        assert (row.speaker, row.text, row.letter, row.emotion, row.version) == (
            u.speaker, u.text, u.letter, u.emotion, u.version)
        assert Path(row.path).name == row.file and Path(row.path).is_file()


def test_metadata_texts_have_sentence_and_gloss(table):
    assert sorted(table["text"].unique()) == sorted(emodb.TEXTS)
    for text, group in table.groupby("text"):
        sentence, gloss = emodb.TEXTS[text]
        assert sentence and gloss
        assert set(group["sentence"]) == {sentence}
        assert set(group["gloss"]) == {gloss}


def test_metadata_sample_rates_and_durations(table):
    assert set(table["sample_rate"]) == {16000}
    assert (table["duration"] > 0).all()
    for row in table.itertuples():
        info = sf.info(row.path)
        assert info.samplerate == row.sample_rate
        assert row.duration == pytest.approx(info.frames / info.samplerate, abs=1e-12)


def test_metadata_refuses_a_misnamed_wav(tmp_path, wav_writer):
    wav_writer(tmp_path / "wav" / "03a01Fa.wav", tone(), 16000)
    wav_writer(tmp_path / "wav" / "hello.wav", tone(), 16000)
    with pytest.raises(FileNameError, match="hello.wav"):
        corpus.metadata(tmp_path)


def test_metadata_on_a_folder_without_wavs(tmp_path):
    with pytest.raises(CorpusNotFoundError, match=str(tmp_path)):
        corpus.metadata(tmp_path)


# --- find_root -------------------------------------------------------------------------------

@pytest.fixture
def fake_root(tmp_path, wav_writer):
    def make(name):
        root = tmp_path / name
        wav_writer(root / "wav" / "03a01Fa.wav", tone(), 16000)
        return root
    return make


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No EMODB_ROOT, no extra mirrors, and an empty cache of this test's own."""
    monkeypatch.delenv("EMODB_ROOT", raising=False)
    monkeypatch.delenv("EMOLIB_EMODB_URLS", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMOLIB_CACHE", str(cache))
    return cache


def test_find_root_explicit_root_wins_over_env(monkeypatch, fake_root):
    given, env = fake_root("given"), fake_root("env")
    monkeypatch.setenv("EMODB_ROOT", str(env))
    assert corpus.find_root(given, download=False) == given
    assert corpus.find_root(str(given), download=False) == given


def test_find_root_explicit_root_wins_even_over_a_bad_env(monkeypatch, fake_root, tmp_path):
    given = fake_root("given")
    monkeypatch.setenv("EMODB_ROOT", str(tmp_path / "nothing-here"))
    assert corpus.find_root(given, download=False) == given


def test_find_root_uses_env_when_no_root(monkeypatch, fake_root, clean_env):
    env = fake_root("env")
    monkeypatch.setenv("EMODB_ROOT", str(env))
    assert corpus.find_root(download=False) == env


def test_find_root_uses_the_real_emodb_root(monkeypatch, emodb_root, clean_env):
    monkeypatch.setenv("EMODB_ROOT", str(emodb_root))
    assert corpus.find_root(download=False) == emodb_root


def test_find_root_accepts_wavs_directly_in_root(monkeypatch, tmp_path, wav_writer, clean_env):
    wav_writer(tmp_path / "flat" / "03a01Fa.wav", tone(), 16000)
    assert corpus.find_root(tmp_path / "flat", download=False) == tmp_path / "flat"


def test_find_root_explicit_root_without_wavs(tmp_path, clean_env):
    empty = tmp_path / "empty"
    (empty / "wav").mkdir(parents=True)
    with pytest.raises(CorpusNotFoundError) as info:
        corpus.find_root(empty, download=False)
    assert str(empty) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_find_root_env_without_wavs_names_env(monkeypatch, tmp_path, clean_env):
    monkeypatch.setenv("EMODB_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(CorpusNotFoundError) as info:
        corpus.find_root(download=False)
    assert "EMODB_ROOT" in str(info.value) and str(tmp_path / "nowhere") in str(info.value)


def test_find_root_uses_the_cache(clean_env, wav_writer):
    wav_writer(clean_env / "emodb" / "wav" / "03a01Fa.wav", tone(), 16000)
    assert corpus.find_root(download=False) == clean_env / "emodb"


def test_find_root_nothing_anywhere_without_download(clean_env):
    with pytest.raises(CorpusNotFoundError) as info:
        corpus.find_root(download=False)
    assert "EMODB_ROOT" in str(info.value)
    assert str(clean_env / "emodb") in str(info.value)


def test_isolated_cache_is_in_effect():
    import os

    from emolib.core import env
    assert env.cache_dir() == Path(os.environ["EMOLIB_CACHE"])
    assert Path.home() / ".cache" not in env.cache_dir().parents


# --- the shipped manifest --------------------------------------------------------------------

def test_shipped_manifest_lists_535_emodb_files():
    manifest = download.read_manifest()
    assert len(manifest) == 535
    for name, digest in manifest.items():
        emodb.parse_name(name)
        assert len(digest) == 64 and int(digest, 16) >= 0
    letters = pd.Series([emodb.parse_name(n).letter for n in manifest]).value_counts()
    assert letters.to_dict() == EMOTION_COUNTS


def test_real_corpus_verifies_clean(emodb_root):
    report = download.verify(emodb_root)
    assert report.problems == {}
    assert report.lines() == []
    assert report.checked == report.ok == 535


@pytest.fixture
def copied(emodb_root, tmp_path):
    """A handful of real WAVs copied into tmp_path/wav."""
    names = sorted(download.read_manifest())[::107]  # 5 files spread over the corpus
    (tmp_path / "wav").mkdir()
    for n in names:
        shutil.copy2(emodb_root / "wav" / n, tmp_path / "wav" / n)
    return tmp_path, names


def test_tampered_copy_is_reported(copied):
    root, names = copied
    victim = root / "wav" / names[2]
    offset, size = data_chunk(victim)
    raw = bytearray(victim.read_bytes())
    raw[offset + size // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))

    manifest = download.read_manifest()
    report = download.verify(root)
    assert report.checked == len(names)
    assert report.ok == len(names) - 1
    assert len(report.problems[victim.name]) == 1
    assert "SHA-256 mismatch" in report.problems[victim.name][0]
    for n in names:
        if n != victim.name:
            assert n not in report.problems
    missing = {n for n, p in report.problems.items() if p == ["missing"]}
    assert missing == set(manifest) - set(names)
    assert set(report.problems) == missing | {victim.name}
    assert any(line.startswith(f"{victim.name}: ") and "SHA-256" in line
               for line in report.lines())


def test_verify_reports_a_foreign_and_a_misnamed_file(copied, wav_writer):
    root, names = copied
    manifest = {n: sha256_file(root / "wav" / n) for n in names}
    wav_writer(root / "wav" / "16b10Tz.wav", tone(), 16000)  # valid name, not in manifest
    wav_writer(root / "wav" / "extra.wav", tone(), 16000)
    wav_writer(root / "wav" / "03a01Wz.wav", np.stack([tone(), tone()], 1), 44100)
    report = download.verify(root, manifest)
    assert set(report.problems) == {"16b10Tz.wav", "extra.wav", "03a01Wz.wav"}
    assert "absent from the manifest" in report.problems["16b10Tz.wav"][0]
    assert "EmoDB scheme" in report.problems["extra.wav"][0]
    assert "2 channel(s) at 44100 Hz" in report.problems["03a01Wz.wav"][0]
    assert report.ok == len(names)


# --- write_manifest --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["wav", "flat"])
def test_write_manifest_round_trip(tmp_path, wav_writer, layout):
    root = tmp_path / "corpus"
    folder = root / "wav" if layout == "wav" else root
    names = ["03a01Fa.wav", "08a02Wb.wav", "16b10Td.wav"]
    for i, n in enumerate(names):
        wav_writer(folder / n, tone(0.3 + 0.1 * i, freq=200 + 50 * i), 16000)
    out = tmp_path / "manifest.csv"
    assert download.write_manifest(root, out) == len(names)

    manifest = download.read_manifest(out)
    assert manifest == {n: sha256_file(folder / n) for n in names}
    table = pd.read_csv(out, dtype=str)
    assert list(table.columns) == ["file", "bytes", "sha256"]
    assert list(table["file"]) == sorted(names)
    assert [int(b) for b in table["bytes"]] == [(folder / n).stat().st_size for n in sorted(names)]

    report = download.verify(root, manifest)
    assert report.problems == {} and report.ok == report.checked == len(names)
    (folder / names[0]).unlink()
    assert download.verify(root, manifest).problems == {names[0]: ["missing"]}


def test_write_manifest_of_the_real_corpus_matches_the_shipped_one(emodb_root, tmp_path):
    out = tmp_path / "m.csv"
    assert download.write_manifest(emodb_root, out) == 535
    assert download.read_manifest(out) == download.read_manifest()

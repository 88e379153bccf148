"""The report's descriptors, segmentation, and the two protocols of the segment study."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from emolib.data import descriptors
from emolib.data.emodb import CLASSES, SPEAKERS
from emolib.models import cnn
from emolib.studies import segments


def test_descriptors_have_the_reports_173_rows(capfd):
    sr = 16000
    t = np.arange(sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    d = descriptors.ReportDescriptors()
    out = d(y)
    assert d.n_rows == 20 + 128 + 12 + 7 + 6 == 173
    assert out.shape[0] == 173 and out.dtype == np.float32 and np.isfinite(out).all()
    assert abs(out.shape[1] - (1 + sr // d.hop_length)) <= 1
    assert capfd.readouterr().err == ""  # no warnings on stderr
    assert d.frames(128) == 8 and d.frames(1024) == 64


def test_segment_means_cut_and_average():
    f = [np.arange(2 * 20, dtype=np.float32).reshape(2, 20), np.ones((2, 5), np.float32)]
    X, owner = descriptors.segment_means(f, 128)  # 8 frames per segment
    assert list(owner) == [0, 0, 1]  # 20 frames -> 2 segments (tail of 4 dropped); 5 -> 1
    np.testing.assert_allclose(X[0], f[0][:, :8].mean(axis=1))
    np.testing.assert_allclose(X[1], f[0][:, 8:16].mean(axis=1))
    np.testing.assert_allclose(X[2], [1, 1])
    Xw, ow = descriptors.segment_means(f, None)
    assert list(ow) == [0, 1] and np.allclose(Xw[0], f[0].mean(axis=1))


def test_segment_means_with_overlap():
    f = [np.arange(2 * 20, dtype=np.float32).reshape(2, 20), np.ones((2, 5), np.float32)]
    X, owner = descriptors.segment_means(f, 128, hop_ms=64)  # 8 frames every 4
    assert list(owner) == [0, 0, 0, 0, 1]  # starts 0, 4, 8, 12 (16 + 8 > 20); 5 frames -> 1
    for j, start in enumerate((0, 4, 8, 12)):
        np.testing.assert_allclose(X[j], f[0][:, start:start + 8].mean(axis=1))
    np.testing.assert_allclose(X[4], [1, 1])
    same, same_owner = descriptors.segment_means(f, 128, hop_ms=128)
    plain, plain_owner = descriptors.segment_means(f, 128)
    assert np.array_equal(same, plain) and np.array_equal(same_owner, plain_owner)
    for bad_seg, bad_hop in ((128, 0), (128, 256), (None, 64)):
        with pytest.raises(ValueError, match="hop_ms"):
            descriptors.segment_means(f, bad_seg, hop_ms=bad_hop)


def _toy(per_cell=2, frames=40, seed=0):
    """Frames whose mean depends on the emotion: a separable toy for the protocols."""
    rng = np.random.default_rng(seed)
    rows, frames_list = [], []
    for s in sorted(SPEAKERS):
        for k, e in enumerate(CLASSES):
            for v in "ab"[:per_cell]:
                rows.append((f"{s}a01{e[0].upper()}{v}.wav", s, e))
                frames_list.append((rng.normal(0, 1, (173, frames)) + 2 * k).astype(np.float32))
    meta = pd.DataFrame(rows, columns=["file", "speaker", "emotion"])
    meta["emotion"] = pd.Categorical(meta.emotion, categories=CLASSES)
    return frames_list, meta


BUDGET = cnn.TrainConfig(epochs=4, epoch_samples=256, batch_size=16)


def test_si5_gives_one_decision_per_utterance_from_held_out_speakers():
    frames, meta = _toy()
    pred, history, segment_wa = segments.si5(frames, meta, 128, BUDGET, progress=False)
    assert 0.8 < segment_wa <= 1
    assert sorted(pred.file) == sorted(meta.file)
    from emolib.data.splits import SI5_FOLDS
    assert all(s in SI5_FOLDS[k] for s, k in zip(pred.speaker, pred.fold))
    assert (pred.y_true == pred.y_pred).mean() > 0.8  # separable toy
    assert list(history.columns) == ["epoch", "train_loss", "monitor_loss"]
    assert len(history) == BUDGET.epochs and history.monitor_loss.notna().all()


def test_leaky_split_scores_segments_and_mixes_speakers():
    frames, meta = _toy()
    pred = segments.leaky(frames, meta, 128, BUDGET, progress=False)
    n_segments = len(descriptors.segment_means(frames, 128)[1])
    assert len(pred) == round(0.2 * n_segments) and (pred.fold == 0).all()
    assert pred.segment.is_unique and pred.speaker.nunique() == len(SPEAKERS)
    overlapping = segments.leaky(frames, meta, 128, BUDGET, progress=False, hop_ms=64)
    n_overlapping = len(descriptors.segment_means(frames, 128, hop_ms=64)[1])
    assert n_overlapping > n_segments and len(overlapping) == round(0.2 * n_overlapping)


def test_si5_speaker_norm_standardises_each_speakers_segments_before_training(monkeypatch):
    frames, meta = _toy()
    offsets = {s: 5.0 * i for i, s in enumerate(SPEAKERS)}  # a strong per-speaker shift of every descriptor
    frames = [f + offsets[s] for f, s in zip(frames, meta.speaker)]
    seen = []
    train = cnn.train

    def spy(X, y, *args, **kwargs):
        seen.append(X)
        return train(X, y, *args, **kwargs)

    monkeypatch.setattr(cnn, "train", spy)
    pred, _, _ = segments.si5(frames, meta, 128, BUDGET, progress=False, speaker_norm=True)
    X, owner = descriptors.segment_means(frames, 128)
    speakers = meta.speaker.to_numpy()[owner]
    train_speakers = [s for s in SPEAKERS if s not in set(pred.speaker[pred.fold == 0])]
    rows = np.isin(speakers, train_speakers)
    assert seen[0].shape == (rows.sum(), 173) and seen[0].dtype == np.float32
    for s in train_speakers:  # fold 0's training rows: each speaker at mean 0, std 1
        mine = seen[0][speakers[rows] == s]
        np.testing.assert_allclose(mine.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(mine.std(axis=0), 1, atol=1e-3)
    assert (pred.y_true == pred.y_pred).mean() > 0.8  # the emotion signal survives the normalisation
    assert sorted(pred.file) == sorted(meta.file)


def test_the_report_budget_study_is_read_in_full_and_run_in_smoke(tmp_path, monkeypatch):
    """A long study: ``full`` reads the committed rows (a missing one names the extended command) and
    trains nothing; smoke trains every cut and writes each row with its budget."""
    import json

    import pytest

    from emolib.core import env
    from emolib.core.errors import EmolibError
    from emolib.studies import segments

    monkeypatch.setattr(env, "RESULTS", tmp_path)
    meta = pd.DataFrame({"file": ["a.wav"]})
    meta.attrs["corpus"] = "emodb"
    monkeypatch.setattr(segments, "leaky", lambda *a, **k: pytest.fail("full must not train"))
    runs = [segments.report_study_run(s, h) for s, h in segments._cuts()]
    assert len(runs) == 9 and runs[0] == "cnn_leaky_128ms_report_budget" and runs[-1] == "cnn_leaky_1024ms_overlap50"
    with pytest.raises(EmolibError, match="reproduce --only 05 --profile extended"):
        segments.report_study(None, meta, profile="full")
    for i, run in enumerate(runs):
        (tmp_path / f"{run}.json").write_text(json.dumps({"run": run, "uar": i / 10, "wa": i / 20}))
    table = segments.report_study(None, meta, profile="full", log=lambda *_: None)
    assert table.wa.tolist() == [i / 20 for i in range(9)] and table.protocol.nunique() == 2


def test_smoke_runs_the_report_budget_study(tmp_path, monkeypatch):
    import json

    from emolib.core import env
    from emolib.studies import segments

    monkeypatch.setattr(env, "RESULTS", tmp_path)
    meta = pd.DataFrame({"file": [f"{i}.wav" for i in range(4)], "speaker": ["03"] * 4, "emotion": ["anger"] * 4})
    meta.attrs["corpus"] = "emodb"
    calls = []

    def fake_leaky(frames, meta, seg, budget, seed=0, hop_ms=None, progress=True):
        calls.append((seg, hop_ms, budget))
        return pd.DataFrame({"file": meta.file, "speaker": meta.speaker, "fold": 0, "y_true": "anger", "y_pred": "anger"})

    monkeypatch.setattr(segments, "leaky", fake_leaky)
    segments.report_study(None, meta, profile="smoke", log=lambda *_: None)
    assert [(s, h) for s, h, _ in calls] == segments._cuts() and all(b == cnn.report_budget("smoke") for *_, b in calls)
    row = json.loads((tmp_path / "smoke" / "cnn_leaky_128ms_overlap50.json").read_text())
    assert row["config"]["hop_ms"] == 64 and row["config"]["budget"]["epochs"] == cnn.report_budget("smoke").epochs


def test_the_segment_study_trains_each_length_three_ways_and_writes_fifteen_rows(tmp_path, monkeypatch):
    import json

    from emolib.core import env
    from emolib.studies import segments

    monkeypatch.setattr(env, "RESULTS", tmp_path)
    meta = pd.DataFrame({"file": [f"{i}.wav" for i in range(4)], "speaker": ["03", "03", "08", "08"],
                         "emotion": ["anger"] * 4})
    meta.attrs["corpus"] = "emodb"
    pred = pd.DataFrame({"file": meta.file, "speaker": meta.speaker, "fold": 0, "y_true": "anger", "y_pred": "anger"})
    calls = []

    def fake_leaky(frames, meta, seg, budget, seed=0, hop_ms=None, progress=True):
        calls.append(("leaky", seg, seed, budget))
        return pred

    def fake_si5(frames, meta, seg, budget, speaker_norm=False, progress=True):
        calls.append(("si5" + ("_spknorm" if speaker_norm else ""), seg, None, budget))
        return pred, pd.DataFrame({"epoch": [1]}), 0.5

    monkeypatch.setattr(segments, "leaky", fake_leaky)
    monkeypatch.setattr(segments, "si5", fake_si5)
    lines, preds, histories = segments.study(None, meta, profile="smoke", log=lambda *_: None)
    assert [(kind, seg) for kind, seg, *_ in calls] == [(k, s) for s in segments.SEGMENT_LENGTHS
                                                         for k in ("leaky", "si5", "si5_spknorm")]
    assert all(b == cnn.budget("smoke") for *_, b in calls) and {c[2] for c in calls if c[0] == "leaky"} == {0}
    assert len(lines) == 15 and set(preds) == {f"{segments.segment_label(s)}{n}" for s in segments.SEGMENT_LENGTHS
                                               for n in ("", "_spknorm")}
    assert set(histories) == {segments.segment_label(s) for s in segments.SEGMENT_LENGTHS}
    leaky = json.loads((tmp_path / "smoke" / "cnn_leaky_whole.json").read_text())
    spk = json.loads((tmp_path / "smoke" / "cnn_si5_512ms_spknorm.json").read_text())
    budget = dataclasses.asdict(cnn.budget("smoke"))
    assert leaky["config"] == {"budget": budget, "split_seed": segments.SPLIT_SEED, "segment": "whole", "seed": 0}
    assert spk["config"] == {"budget": budget, "segment": "512ms", "seed": 0} and spk["speaker_norm"] is True
    assert spk["segment_wa"] == 0.5 and spk["config"]["seed"] == cnn.budget("smoke").seed and "dirty" in spk

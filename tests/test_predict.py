"""Final models and ``predict``: real recordings (other rates, stereo, FLAC, long files), clear
errors (silence, too short, not audio, a missing or altered model), on the synthetic corpus."""
import json

import numpy as np
import pytest
import soundfile as sf
from conftest import export_folds

from emolib import cli
from emolib.core.errors import EmolibError
from emolib.core.files import sha256_file
from emolib.data import corpus
from emolib.data.audio import SAMPLE_RATE, load_audio
from emolib.data.emodb import CLASSES
from emolib.systems import final, predict, quality

MODEL = "baseline_egemaps_logreg"


@pytest.fixture(scope="module")
def final_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("final")
    mp = pytest.MonkeyPatch()
    mp.setattr(final, "final_dir", lambda corpus=None, profile=None: folder)
    yield folder
    mp.undo()


@pytest.fixture(scope="module")
def synthetic():
    return corpus.load_corpus("synthetic")


@pytest.fixture(scope="module")
def model(final_folder, synthetic):
    final.build(synthetic, MODEL, profile="smoke", corpus="synthetic", progress=False, log=None)
    return final.load(MODEL, corpus="synthetic", profile="smoke")


@pytest.fixture(scope="module")
def spk_model(final_folder, synthetic):
    final.build(synthetic, MODEL, speaker_norm=True, profile="smoke", corpus="synthetic", progress=False, log=None)
    return final.load(MODEL, speaker_norm=True, corpus="synthetic", profile="smoke")


@pytest.fixture(scope="module")
def utterance(synthetic):
    """A synthetic utterance of the training corpus (16 kHz mono) and its emotion."""
    row = synthetic.iloc[3]
    return load_audio(row.path), row.emotion


def _probs(p):
    return np.array([p.probabilities[c] for c in CLASSES])


def test_build_writes_config_and_hash(model, final_folder):
    info = json.loads((final_folder / MODEL / "model.json").read_text())
    assert info["systems"] == ["egemaps"] and info["speaker_norm"] is False
    assert info["trained_on"]["utterances"] == 210 and len(info["trained_on"]["speakers"]) == 10
    assert len(info["sha256"]) == 64 and info["profile"] == "smoke"


def test_prediction_is_a_distribution_from_the_model(model, utterance, tmp_path, wav_writer):
    y, _ = utterance
    path = wav_writer(tmp_path / "u.wav", y, SAMPLE_RATE, subtype="FLOAT")
    (p,), windows = predict.predict_files(model, [path])
    assert windows == [] and p.emotion == CLASSES[int(np.argmax(_probs(p)))]
    assert abs(_probs(p).sum() - 1) < 1e-6 and p.end == pytest.approx(len(y) / SAMPLE_RATE)
    direct = model.proba(model.features([y]))[0]
    np.testing.assert_allclose(_probs(p), direct, atol=1e-9)


def test_resampled_file_gives_the_same_emotion(model, utterance, tmp_path, wav_writer):
    import librosa

    y, _ = utterance
    y44 = librosa.resample(y, orig_sr=SAMPLE_RATE, target_sr=44_100)
    (p16,), _ = predict.predict_files(model, [wav_writer(tmp_path / "a.wav", y, SAMPLE_RATE, subtype="FLOAT")])
    (p44,), _ = predict.predict_files(model, [wav_writer(tmp_path / "b.wav", y44, 44_100, subtype="FLOAT")])
    assert p44.end == pytest.approx(p16.end, abs=0.01)
    assert p44.emotion == p16.emotion
    assert np.abs(_probs(p44) - _probs(p16)).max() < 0.2


def test_stereo_is_mixed_down_and_flac_is_read(model, utterance, tmp_path, wav_writer):
    y, _ = utterance
    mono = wav_writer(tmp_path / "m.wav", y, SAMPLE_RATE, subtype="FLOAT")
    stereo = wav_writer(tmp_path / "s.wav", np.stack([y, y], axis=1), SAMPLE_RATE, subtype="FLOAT")
    flac = tmp_path / "f.flac"
    sf.write(flac, y, SAMPLE_RATE, subtype="PCM_24")
    files, _ = predict.predict_files(model, [mono, stereo, flac])
    np.testing.assert_allclose(_probs(files[1]), _probs(files[0]), atol=1e-9)
    assert files[2].emotion == files[0].emotion


def test_long_files_are_scored_in_windows(model, synthetic, tmp_path, wav_writer):
    waves = [load_audio(p) for p in synthetic.path.iloc[:8]]
    long = np.concatenate(waves)
    assert len(long) > predict.LONG_S * SAMPLE_RATE
    (p,), windows = predict.predict_files(model, [wav_writer(tmp_path / "long.wav", long, SAMPLE_RATE, "FLOAT")])
    spans = [(w.start, w.end) for w in windows]
    assert spans[0][0] == 0 and spans[-1][1] == pytest.approx(len(long) / SAMPLE_RATE)
    assert all(e - s == pytest.approx(predict.WINDOW_S) for s, e in spans)
    assert all(b[0] - a[0] <= predict.HOP_S + 1e-9 for a, b in zip(spans, spans[1:]))  # no gap
    np.testing.assert_allclose(_probs(p), np.mean([_probs(w) for w in windows], axis=0), atol=1e-9)


def test_per_window_on_a_short_file(model, utterance, tmp_path, wav_writer):
    y, _ = utterance
    path = wav_writer(tmp_path / "short.wav", y, SAMPLE_RATE, subtype="FLOAT")
    (whole,), windows = predict.predict_files(model, [path], per_window=True)
    assert len(windows) == len(predict.windows(len(y))) >= 1
    (alone,), _ = predict.predict_files(model, [path])
    np.testing.assert_allclose(_probs(whole), _probs(alone), atol=1e-9)  # the file is still scored whole


def test_windows_cover_the_signal():
    sr = SAMPLE_RATE
    assert predict.windows(2 * sr) == [(0, 2 * sr)]
    spans = predict.windows(int(12.3 * sr))
    assert spans[0][0] == 0 and spans[-1][1] == int(12.3 * sr)
    assert all(e - s == int(predict.WINDOW_S * sr) for s, e in spans)


@pytest.mark.parametrize("make, words", [
    (lambda p, w: w(p, np.zeros(SAMPLE_RATE), SAMPLE_RATE), "silent"),
    (lambda p, w: w(p, np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE // 5), SAMPLE_RATE), "too short"),
    (lambda p, w: p.write_text("not audio at all\n") and p, "not a readable audio file"),
])
def test_bad_files_are_refused_by_name(model, utterance, tmp_path, wav_writer, make, words):
    bad = make(tmp_path / "bad.wav", wav_writer)
    good = wav_writer(tmp_path / "good.wav", utterance[0], SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(EmolibError, match=words) as e:
        predict.predict_files(model, [good, bad])
    assert str(bad) in str(e.value) and str(good) not in str(e.value)


def test_a_folder_is_named_as_a_folder(tmp_path):
    with pytest.raises(EmolibError, match="a folder, not an audio file; name its files"):
        predict.read([tmp_path])


def test_speaker_norm_needs_several_recordings(spk_model, synthetic, utterance, tmp_path, wav_writer):
    m = spk_model
    one = wav_writer(tmp_path / "one.wav", utterance[0], SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(EmolibError, match="--speaker-norm needs at least"):
        predict.predict_files(m, [one])
    speaker = synthetic[synthetic.speaker == synthetic.speaker.iloc[0]]
    files, _ = predict.predict_files(m, list(speaker.path))
    # the speaker's own statistics, as in training: the same as normalising the corpus features per speaker
    from emolib.data.features import speaker_standardize
    from emolib.systems import registry

    X = speaker_standardize(registry.get("egemaps").corpus_features(speaker), speaker.speaker.astype(str))
    np.testing.assert_allclose([_probs(p) for p in files], m.proba({"egemaps": X}), atol=1e-6)


def test_missing_model_says_how_to_build_it(final_folder, capsys, utterance, tmp_path, wav_writer):
    path = wav_writer(tmp_path / "u.wav", utterance[0], SAMPLE_RATE, subtype="FLOAT")
    rc = cli.main(["predict", str(path), "--model", "cnn_si5_whole", "--corpus", "synthetic", "--profile", "smoke"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "python -m emolib train-final --model cnn_si5_whole --profile smoke" in err


def test_altered_model_is_refused(final_folder, synthetic):
    final.build(synthetic, MODEL, profile="smoke", corpus="synthetic", progress=False, log=None)
    blob = final_folder / MODEL / "model.safetensors"
    blob.write_bytes(blob.read_bytes() + b"x")
    try:
        with pytest.raises(EmolibError, match="does not match"):
            final.load(MODEL, corpus="synthetic", profile="smoke")
    finally:
        final.build(synthetic, MODEL, profile="smoke", corpus="synthetic", progress=False, log=None)


def test_cli_table_and_json(model, utterance, tmp_path, wav_writer, capsys):
    path = wav_writer(tmp_path / "cli.wav", utterance[0], SAMPLE_RATE, subtype="FLOAT")
    args = ["predict", str(path), "--model", MODEL, "--corpus", "synthetic", "--profile", "smoke", "--jobs", "1"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["file", "emotion"] and out[1].startswith("cli.wav")
    assert cli.main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == MODEL and set(data["files"][0]["probabilities"]) == set(CLASSES)
    file = data["files"][0]  # the quality line, what lies outside the training range, and an unsure mark
    assert set(file["quality"]) == set(quality.MEASURES) and isinstance(file["warnings"], list)
    assert file["distance"] > 0 and isinstance(file["unsure"], bool)
    assert file["quality"]["duration_s"] == pytest.approx(len(utterance[0]) / SAMPLE_RATE, abs=0.01)


def test_the_model_keeps_a_calibration_fitted_out_of_fold(model):
    cal = model.info["calibration"]
    assert cal["temperature"] > 0 and set(cal["out_of_fold"]) == {"nll", "ece", "brier"}
    assert set(cal["quality"]) == set(quality.MEASURES) and cal["distance"]["egemaps"] > 0
    # one clean-trained system: the share of utterances beyond its yardstick is the percentile's complement
    assert cal["beyond"] == pytest.approx(1 - quality.QUANTILE / 100, abs=2 / len(model.banks["egemaps"]))
    # tempering never raises the negative log-likelihood it minimises
    assert cal["tempered"]["nll"] <= cal["out_of_fold"]["nll"] + 1e-6 and set(cal["with_fall_back"]) == {"nll", "ece", "brier"}


def test_the_fall_back_draws_towards_even_odds_and_keeps_the_answer():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(len(CLASSES)) * 0.2, size=6)
    d = np.array([0.0, 0.5, 1.0, 1.5, 3.0, 100.0])
    q = final.fall_back(p, d)
    assert np.allclose(q.sum(1), 1) and (q[:5].argmax(1) == p[:5].argmax(1)).all()  # the last: even odds
    assert np.allclose(q[:3], p[:3])  # within the yardstick nothing changes
    top = q.max(1)
    assert top[3] < p[3].max() and top[5] == pytest.approx(1 / len(CLASSES), abs=1e-6)


def test_audio_unlike_the_training_corpus_gets_no_confident_answer(model):
    odd = quality.unlike_emodb()
    odd.pop("synthetic voice")  # the synthetic corpus's own kind of voice: this model was trained on it
    files, _ = predict.predict_waves(model, list(odd.values()), list(odd))
    for p in files:
        assert max(p.probabilities.values()) < 0.9, (p.file, p.probabilities)
        assert p.warnings, p.file  # and the quality line says why
    lines = predict.quality_lines(files).splitlines()
    assert len(lines) == 2 and all(name in line for name, line in zip(odd, lines))


def test_the_distance_yardstick_measures_other_speakers_only():
    rng = np.random.default_rng(0)
    bank, speakers = rng.standard_normal((40, 8)), np.repeat(list("abcd"), 10)
    assert quality.nearest(bank[:3], bank, k=1) == pytest.approx(0.0, abs=1e-9)  # a training row is its own nearest
    # each speaker's recordings (and their degraded copies) lie close together and far from the others': the
    # yardstick is the distance between speakers, never that within one
    centres = 5.0 * rng.standard_normal((4, 8))
    clustered = np.repeat(centres, 10, axis=0) + 1e-3 * rng.standard_normal((40, 8))
    assert quality.yardstick(clustered, speakers) > 10
    far = quality.nearest(bank[:1] + 10.0, bank) / quality.yardstick(bank, speakers)
    assert far > 10  # a vector shifted by ten deviations lies many yardsticks away


def test_a_file_like_the_training_recordings_gets_no_warning(model, synthetic):
    files, _ = predict.predict_waves(model, [load_audio(p) for p in synthetic.path[:5]], list(synthetic.file[:5]))
    assert sum(bool(p.warnings) for p in files) <= 1  # 1st-99th percentile range: most training files lie inside


def test_multi_condition_model_trains_on_degraded_copies(final_folder, synthetic, utterance):
    final.build(synthetic, "robust_egemaps_mct", profile="smoke", corpus="synthetic", progress=False, log=None)
    m = final.load("robust_egemaps_mct", corpus="synthetic", profile="smoke")
    assert m.systems == ["egemaps"] and m.info["row"] == "robust_egemaps_mct_clean"
    p = m.proba(m.features([utterance[0]]))[0]
    assert abs(p.sum() - 1) < 1e-6
    with pytest.raises(EmolibError, match="raw only"):
        final.row_name("robust_egemaps_mct", True)
    with pytest.raises(EmolibError, match="multi-condition models are offered for"):
        final.systems_of("robust_moco_mct")  # per-fold encoders: no multi-condition final model


def test_fusion_model_stacks_its_systems(final_folder, synthetic, utterance):
    name = "fusion_compare_egemaps_cnn"
    final.build(synthetic, name, profile="smoke", corpus="synthetic", progress=False, log=None)
    m = final.load(name, corpus="synthetic", profile="smoke")
    assert m.systems == ["compare", "egemaps", "cnn"] and m.stacker is not None
    feats = m.features([utterance[0]])
    p = m.proba(feats)[0]
    assert abs(p.sum() - 1) < 1e-6
    # the stacker, not any one base system, decides: its input is every system's log-probabilities
    assert m.stacker.coef.shape[1] == 3 * len(CLASSES)


def test_best_is_chosen_among_the_fixed_candidates(tmp_path):
    ALL = final.CANDIDATES[-1]  # the fusion of every registered system
    assert ALL == "fusion_compare_egemaps_moco_cnn_cnnsig"
    rows = {"baseline_compare_logreg": 0.78, "cnn_si5_whole": 0.56, ALL: 0.77,
            "fusion_compare_egemaps_cnn": 0.99}  # a leave-one-out subset is never the default
    for name, uar in rows.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"uar": uar}))
    name, found = final.best(False, tmp_path)
    assert name == "baseline_compare_logreg" and "fusion_compare_egemaps_cnn" not in found
    (tmp_path / f"{ALL}.json").write_text(json.dumps({"uar": 0.8}))
    assert final.best(False, tmp_path)[0] == ALL
    with pytest.raises(EmolibError, match="--model"):
        final.best(True, tmp_path)


def test_best_weighs_clean_and_degraded_audio_where_the_robustness_rows_exist(tmp_path):
    from emolib.augmentation.degrade import TARGET

    ALL = final.CANDIDATES[-1]
    (tmp_path / "baseline_compare_logreg.json").write_text(json.dumps({"uar": 0.78}))
    (tmp_path / f"{ALL}.json").write_text(json.dumps({"uar": 0.80}))
    assert final.best(False, tmp_path)[0] == ALL  # no robustness rows: SI-5 UAR
    uars = {"robust_compare": (0.78, 0.40), "robust_compare_mct": (0.77, 0.60), "robust_egemaps": (0.68, 0.50)}
    for stem, (clean, degraded) in uars.items():
        for c, u in [("clean", clean)] + [(c, degraded) for c in TARGET]:
            (tmp_path / f"{stem}_{c}.json").write_text(json.dumps({"uar": u}))
    name, found = final.best(False, tmp_path)
    assert name == "robust_compare_mct" and found[name] == pytest.approx(0.5 * 0.77 + 0.5 * 0.60)
    assert found["baseline_compare_logreg"] == pytest.approx(0.59) and ALL not in found
    (tmp_path / "baseline_compare_logreg_spknorm.json").write_text(json.dumps({"uar": 0.85}))
    assert final.best(True, tmp_path)[0] == "baseline_compare_logreg"  # speaker-normalised: SI-5 UAR as before


def test_moco_model_pretrains_on_every_speaker(final_folder, synthetic, utterance, tmp_path):
    export_folds(synthetic, tmp_path / "folds")  # the SI-5 fold encoders of its out-of-fold probabilities
    final.build(synthetic, "moco_probe_logreg", profile="smoke", corpus="synthetic", encoders={"moco": tmp_path / "folds"},
                progress=False, log=None)
    m = final.load("moco_probe_logreg", corpus="synthetic", profile="smoke")
    backbone, info = m.encoders["moco"]
    assert info["fold"] == -1  # pretrained on all speakers: no fold held out
    history = [json.loads(line) for line in (final_folder / "moco_encoder" / "all" / "history.jsonl").read_text().splitlines()]
    assert history and not any("knn_uar" in h for h in history)  # no held-out speakers to monitor
    p = m.proba(m.features([utterance[0]]))[0]
    assert abs(p.sum() - 1) < 1e-6
    weights = final_folder / "moco_encoder" / "all" / "backbone.safetensors"
    assert m.info["encoders"]["moco"]["sha256"][0] == sha256_file(weights)
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")  # another encoder than the one it was fitted on
    with pytest.raises(EmolibError, match="not the one moco_probe_logreg was fitted on"):
        final.load("moco_probe_logreg", corpus="synthetic", profile="smoke")


@pytest.mark.parametrize("system", ["compare", "egemaps", "cnn"])
def test_prediction_features_are_the_training_features(synthetic, system):
    """What predict computes from a waveform equals the cached corpus features the model was fitted on."""
    from emolib.systems import registry

    rows = synthetic.iloc[:3]
    train = registry.get(system).corpus_features(rows)
    pred = np.stack(final.waveform_features(system, [load_audio(p) for p in rows.path]))
    np.testing.assert_allclose(pred, train, rtol=1e-5, atol=1e-6)


def test_speaker_norm_statistics_come_from_the_files_not_the_windows(spk_model, synthetic):
    m = spk_model
    paths = list(synthetic[synthetic.speaker == synthetic.speaker.iloc[0]].path)
    plain, _ = predict.predict_files(m, paths)
    windowed, windows = predict.predict_files(m, paths, per_window=True)
    assert windows
    np.testing.assert_allclose([_probs(p) for p in windowed], [_probs(p) for p in plain], atol=1e-9)


def test_linear_model_arrays_give_scikit_learns_probabilities():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(140, 12)) * rng.uniform(0.1, 10, 12) + rng.normal(size=12)
    y = np.array(CLASSES)[rng.integers(0, len(CLASSES), 140)]
    X[:, 0] += 3 * (y == "anger")
    for model in (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), LogisticRegression(C=0.1)):
        model.fit(X, y)
        lin = final.LinearModel.of(model)
        back = final.LinearModel.from_arrays(lin.arrays("m"), "m", list(lin.classes_))
        np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X), atol=1e-10)
        assert list(back.classes_) == list(model.classes_)


def test_learner_system_model_pretrains_its_own_learner_and_predicts_with_its_read_out(final_folder, synthetic,
                                                                                       utterance, tmp_path):
    """``ssl_cnn_sig_stats`` (system cnnsig): its final encoder is the learner's (a CNN with signal-derived targets),
    not the recipe's ViT, and a waveform's features are that encoder's statistics read-out, as in training."""
    import torch

    from emolib.data.features import fit_standardizer, log_mels
    from emolib.data.splits import speaker_folds
    from emolib.models import vit
    from emolib.ssl import encoders
    from emolib.ssl.encoders import ALL_SPEAKERS, fold_embeddings

    cnn = vit.BackboneConfig("resnet10t_half", n_mels=64, frames=96)
    mels = log_mels(synthetic.path, progress=False)
    for f in speaker_folds(synthetic, "si5"):  # random fold encoders: the out-of-fold plumbing, not what they learnt
        torch.manual_seed(f.index)
        std = fit_standardizer(mels, f)
        vit.export_backbone(vit.create_backbone(cnn), cnn, encoders.backbone_path(tmp_path / "folds", f.index),
                            vit.Normalization(std.mean.tolist(), std.std.tolist()), {"fold": f.index, "epoch": 3})
    final.build(synthetic, "ssl_cnn_sig_stats", profile="smoke", corpus="synthetic",
                encoders={"cnnsig": tmp_path / "folds"}, progress=False, log=None)
    m = final.load("ssl_cnn_sig_stats", corpus="synthetic", profile="smoke")
    assert m.systems == ["cnnsig"] and set(m.info["encoders"]) == {"cnnsig"}
    backbone, info = m.encoders["cnnsig"]
    assert info["fold"] == ALL_SPEAKERS and info["backbone"]["arch"] == "resnet10t_half"
    assert info["pretrain"]["targets"] == "functionals"  # the learner's own pretraining, on every speaker
    feats = m.features([load_audio(p) for p in synthetic.path.iloc[:2]])["cnnsig"]
    train = fold_embeddings(synthetic.iloc[:2], final_folder / "cnnsig_encoder", folds=[ALL_SPEAKERS], progress=False,
                            stats=True)[ALL_SPEAKERS]
    np.testing.assert_allclose(feats, train, rtol=1e-4, atol=1e-5)
    assert feats.shape[1] == 3 * cnn.embed_dim  # mean, spread and maximum over the windows
    p = m.proba(m.features([utterance[0]]))[0]
    assert abs(p.sum() - 1) < 1e-6

"""Pretext options against the speaker shortcut: speaker batches, per-speaker input statistics,
the mel warp, the formant and pitch warps, the speaker adversary, exact resume with them, DDP, and the ablation's rows."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from emolib.augmentation import spectrogram, views
from emolib.core.errors import EmolibError
from emolib.data.corpus import load_corpus
from emolib.data.features import Standardizer
from emolib.evaluation import study_tables, tables
from emolib.evaluation.runs import encoder_prefix
from emolib.models.vit import embed
from emolib.ssl import adversary, checkpoints, encoders, pretrain, pretrain_config, shortcut, standardize
from emolib.ssl import batches as B
from emolib.studies import ablation

SPEAKERS = np.array(["03"] * 7 + ["08"] * 12 + ["09"] * 3 + ["10"] * 9)


def test_speaker_batches_hold_one_speaker_and_cover_every_utterance_once():
    gen = torch.Generator().manual_seed(0)
    for epoch in range(3):
        batches = B.epoch_batches(len(SPEAKERS), 5, gen, SPEAKERS)
        seen = torch.cat(batches).tolist()
        assert sorted(seen) == list(range(len(SPEAKERS)))  # each utterance exactly once
        assert all(len(set(SPEAKERS[b.numpy()])) == 1 for b in batches)
        assert all(1 <= len(b) <= 5 for b in batches)
        # ceil(n / 5) nearly equal batches per speaker: 7 -> 4+3, 12 -> 4+4+4, 3 -> 3, 9 -> 5+4
        assert sorted(len(b) for b in batches) == [3, 3, 4, 4, 4, 4, 4, 5]
    again = B.epoch_batches(len(SPEAKERS), 5, torch.Generator().manual_seed(0), SPEAKERS)
    first = B.epoch_batches(len(SPEAKERS), 5, torch.Generator().manual_seed(0), SPEAKERS)
    assert all(torch.equal(a, b) for a, b in zip(again, first))


def test_gender_batches_and_mixed_batches():
    genders = np.where(np.isin(SPEAKERS, ["03", "10"]), "m", "f")
    groups = B.batch_groups("gender", SPEAKERS, genders)
    batches = B.epoch_batches(len(SPEAKERS), 8, torch.Generator().manual_seed(1), groups)
    assert all(len(set(genders[b.numpy()])) == 1 for b in batches)
    assert sorted(torch.cat(batches).tolist()) == list(range(len(SPEAKERS)))
    assert B.batch_groups("none", SPEAKERS, genders) is None
    # mixed batches are the permutation cut into n // batch_size batches, as before the option
    mixed = B.epoch_batches(31, 8, torch.Generator().manual_seed(2))
    perm = torch.randperm(31, generator=torch.Generator().manual_seed(2))
    assert [b.tolist() for b in mixed] == [perm[i * 8:(i + 1) * 8].tolist() for i in range(3)]
    with pytest.raises(ValueError, match="batch_by"):
        B.batch_groups("room", SPEAKERS, genders)


def test_speaker_statistics_use_only_that_speakers_audio():
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(4, 10)).astype(np.float32) + (5 if s == "08" else 0) for s in SPEAKERS]
    out = standardize.standardize_by_speaker(mels, SPEAKERS)
    changed = [m * 3 + 7 if s == "08" else m for m, s in zip(mels, SPEAKERS)]
    again = standardize.standardize_by_speaker(changed, SPEAKERS)
    for a, b, s in zip(out, again, SPEAKERS):
        if s != "08":  # another speaker's audio never moves this speaker's statistics
            np.testing.assert_array_equal(a, b)
    eights = np.concatenate([m for m, s in zip(out, SPEAKERS) if s == "08"], axis=1)
    np.testing.assert_allclose(eights.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(eights.std(1), 1, atol=1e-4)


def test_normalize_with_per_group_statistics():
    stats = [Standardizer(np.zeros(3, np.float32), np.ones(3, np.float32)),
             Standardizer(np.full(3, 2, np.float32), np.full(3, 4, np.float32))]
    norm = spectrogram.Normalize(stats, groups=[0, 1, 1])
    x = torch.full((2, 3, 5), 6.0)
    out = norm(x, torch.tensor([0, 2]))
    assert torch.equal(out[0], x[0]) and torch.allclose(out[1], torch.ones(3, 5))
    with pytest.raises(ValueError, match="indices"):
        norm(x)
    with pytest.raises(ValueError, match="groups"):
        spectrogram.Normalize(stats)


def test_mel_warp_moves_formants_and_keeps_time():
    warp = spectrogram.MelWarp(0.2)
    x = torch.zeros(3, 64, 20)
    x[:, 20, :] = 1.0  # a band near 1 kHz, in every frame
    x[:, :, 7] += 0.5  # a time event
    out = warp(x, alpha=torch.tensor([1.0, 1.2, 0.8]))
    torch.testing.assert_close(out[0], x[0])  # α = 1: the identity
    peak = lambda m: float((m[:, 0] * torch.arange(64)).sum() / m[:, 0].sum())
    assert peak(out[1]) > 20.5 and peak(out[2]) < 19.5  # a longer/shorter vocal tract
    assert all(out[i, :, 7].mean() > out[i, :, 6].mean() for i in range(3))  # time untouched
    pos = warp.source_positions(np.linspace(0.8, 1.2, 5))
    assert (np.diff(pos, axis=1) >= 0).all()  # monotone: bands keep their order
    np.testing.assert_allclose(pos[:, -1], 63, atol=0.6)  # the top band stays near the top
    g = lambda: torch.Generator().manual_seed(3)
    torch.testing.assert_close(warp(x, g()), warp(x, g()))
    with pytest.raises(ValueError, match="max_warp"):
        spectrogram.MelWarp(1.5)


def _voiced_log_mel(f0: float, formant: float) -> torch.Tensor:
    """A steady voiced frame's log-mel ``(1, 64, 1)``: harmonics of ``f0`` under one formant peak."""
    import librosa

    f = np.linspace(0, 8000, 1025)
    source = sum(np.exp(-0.5 * ((f - h) / 8) ** 2) * f0 / h for h in np.arange(f0, 8000, f0))  # -6 dB/octave
    tract = np.exp(-0.5 * ((f - formant) / 200) ** 2) + 0.02
    bank = librosa.filters.mel(sr=16000, n_fft=2048, n_mels=64, fmin=50, fmax=8000)
    return torch.from_numpy(np.log(bank @ (source * tract) + 1e-6).astype(np.float32))[None, :, None]


def test_source_filter_warp_moves_formants_and_pitch_apart():
    voice = spectrogram.SourceFilterWarp(0.2, 0.2)
    x = _voiced_log_mel(150, 700)
    env, fine = voice.split(x)
    torch.testing.assert_close(env + fine, x)
    one = torch.ones(1)
    torch.testing.assert_close(voice(x, alpha=one, beta=one), x)  # no warp: the identity
    low = lambda m: m[0, :24, 0].numpy()  # the bands where 64 mel bands resolve harmonics
    corr = lambda a, b: float(np.corrcoef(low(a), low(b))[0, 1])
    peak = lambda m: int(m[0, :, 0].argmax())

    for factor in (0.87, 1.15):
        # formants move as a shorter or longer vocal tract's would (within a band), harmonics stay
        formant = voice.split(voice(x, alpha=torch.tensor([factor]), beta=one))
        moved = peak(formant[0]) - peak(env)
        assert moved * (factor - 1) > 0
        assert abs(peak(formant[0]) - peak(voice.split(_voiced_log_mel(150, 700 * factor))[0])) <= 1
        assert corr(formant[1], fine) > 0.95
        # harmonics move as a higher or lower voice's would, the formant stays (within a band)
        pitch = voice.split(voice(x, alpha=one, beta=torch.tensor([factor])))
        assert abs(peak(pitch[0]) - peak(env)) <= 1
        truth = voice.split(_voiced_log_mel(150 * factor, 700))[1]
        assert corr(pitch[1], truth) > 0.85 and abs(corr(pitch[1], fine)) < 0.3
    g = lambda: torch.Generator().manual_seed(3)
    torch.testing.assert_close(voice(x, g()), voice(x, g()))
    with pytest.raises(ValueError, match="max_pitch"):
        spectrogram.SourceFilterWarp(0.1, 1.0)


def test_views_with_formant_or_pitch_change_the_views_and_keep_the_recipe_stream():
    rng = np.random.default_rng(0)
    clean = [rng.normal(size=(64, 120)).astype(np.float32) for _ in range(6)]
    std = Standardizer.fit(clean)
    idx = torch.arange(6)
    plain = views.TwoViews(clean, std, views.recipe("crop", crop_frames=32))(idx, torch.Generator().manual_seed(0))
    for change in (dict(formant=0.2), dict(pitch=0.2), dict(formant=0.2, pitch=0.2)):
        one = views.TwoViews(clean, std, views.recipe("crop", crop_frames=32, warp_views="one", **change))
        b1, b2 = one(idx, torch.Generator().manual_seed(0))
        torch.testing.assert_close(plain[0], b1)  # view 1 untouched
        assert not torch.allclose(plain[1], b2)
    cfg = pretrain_config.profile_config("smoke", formant=0.1, pitch=0.05)
    assert "formant warp ±0.1 and pitch warp ±0.05" in encoders.describe_pretext(cfg.to_dict())


def test_views_warp_one_view_only_when_asked():
    rng = np.random.default_rng(0)
    clean = [rng.normal(size=(64, 120)).astype(np.float32) for _ in range(6)]
    std = Standardizer.fit(clean)
    plain = views.TwoViews(clean, std, views.recipe("crop", crop_frames=32))
    one = views.TwoViews(clean, std, views.recipe("crop", crop_frames=32, warp=0.2, warp_views="one"))
    idx = torch.arange(6)
    a1, a2 = plain(idx, torch.Generator().manual_seed(0))
    b1, b2 = one(idx, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a1, b1)  # view 1 untouched (same crops: same random numbers first)
    assert not torch.allclose(a2, b2)


def _fold_weights(folder):
    from safetensors.torch import load_file

    return load_file(folder / "backbone.safetensors")


OPTIONS = dict(batch_by="speaker", input_norm="speaker", warp=0.15, formant=0.1, pitch=0.1, adversary=0.5)


@pytest.mark.parametrize("input_norm", ["speaker", "utterance", "shape"])
def test_resume_is_exact_with_every_pretext_option(tmp_path, input_norm):
    meta = load_corpus("synthetic")
    cfg = pretrain_config.profile_config("smoke", epochs=3, save_every=1, knn_every=10, keep_epochs=(),
                                  **{**OPTIONS, "input_norm": input_norm})
    pretrain.pretrain_fold(meta, 1, cfg, tmp_path / "a", progress=False)

    class Stop(Exception):
        pass

    def stop(step, model):
        if step == 9:  # in epoch 2: the checkpoint of epoch 1 is on disk
            raise Stop

    with pytest.raises(Stop):
        pretrain.pretrain_fold(meta, 1, cfg, tmp_path / "b", progress=False, on_step=stop)
    assert checkpoints.load_checkpoint(tmp_path / "b" / "fold1" / "checkpoint.pt")["epoch"] == 1
    history = pretrain.pretrain_fold(meta, 1, cfg, tmp_path / "b", resume="auto", progress=False)
    a, b = _fold_weights(tmp_path / "a" / "fold1"), _fold_weights(tmp_path / "b" / "fold1")
    assert all(torch.equal(a[k], b[k]) for k in a)
    straight = [json.loads(x) for x in (tmp_path / "a" / "fold1" / "history.jsonl").read_text().splitlines()]
    drop = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]
    assert drop(history) == drop(straight)
    assert {"adversary_loss", "adversary_acc"} <= history[-1].keys()
    state = checkpoints.load_checkpoint(tmp_path / "b" / "fold1" / "checkpoint.pt")
    assert "adversary" in state and state["config"]["batch_by"] == "speaker"


def test_pretraining_never_uses_emotion_labels(tmp_path):
    """Shuffling the emotion column changes nothing the encoder learns (the adversary sees the
    training speakers only); only the k-NN monitor, which reads labels, may differ."""
    meta = load_corpus("synthetic")
    cfg = pretrain_config.profile_config("smoke", epochs=2, knn_every=10, keep_epochs=(), **OPTIONS)
    shuffled = meta.copy()
    shuffled["emotion"] = shuffled.emotion.sample(frac=1, random_state=0).to_numpy()
    assert (shuffled.emotion != meta.emotion).any()
    seen = []
    forward = adversary.SpeakerAdversary.forward

    def spy(self, features, speakers, scale):
        seen.append(speakers.clone())
        return forward(self, features, speakers, scale)

    adversary.SpeakerAdversary.forward = spy
    try:
        pretrain.pretrain_fold(meta, 0, cfg, tmp_path / "a", progress=False)
        pretrain.pretrain_fold(shuffled, 0, cfg, tmp_path / "b", progress=False)
    finally:
        adversary.SpeakerAdversary.forward = forward
    a, b = _fold_weights(tmp_path / "a" / "fold0"), _fold_weights(tmp_path / "b" / "fold0")
    assert all(torch.equal(a[k], b[k]) for k in a)
    labels = torch.cat(seen)
    assert labels.max() < 8 and all(len(set(s.tolist())) == 1 for s in seen)  # one training speaker a batch


def test_held_out_speaker_embedding_uses_only_its_own_audio(tmp_path):
    meta = load_corpus("synthetic")
    cfg = pretrain_config.profile_config("smoke", epochs=1, knn_every=10, keep_epochs=(), input_norm="speaker")
    pretrain.pretrain_fold(meta, 0, cfg, tmp_path, progress=False)
    emb = encoders.fold_embeddings(meta, tmp_path, folds=[0], progress=False, cache=False)[0]
    model, info = encoders.load_encoder(tmp_path, 0)
    assert encoders.speaker_input(info)
    from emolib.data.features import log_mels

    held_out = meta.speaker.astype(str) == "03"  # a test speaker of fold 0
    mels = log_mels(meta.path[held_out], progress=False)
    alone = embed(model, standardize.standardize_by_speaker(mels, ["03"] * len(mels)), np.zeros(64), np.ones(64),
                  info["backbone"]["frames"])
    np.testing.assert_allclose(emb[held_out.to_numpy()], alone, rtol=1e-5, atol=1e-5)


def test_utterance_centring_uses_only_that_files_own_audio():
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(64, n)).astype(np.float32) + rng.normal(size=(64, 1)) for n in (50, 80, 120)]
    centred = standardize.centre_utterances(mels)
    for m, c in zip(mels, centred):
        np.testing.assert_allclose(c.mean(axis=1), 0, atol=1e-5)       # each band's mean over its frames is gone
        np.testing.assert_allclose(c.std(axis=1), m.std(axis=1), rtol=1e-5)  # its spread over time is kept
        assert c.dtype == m.dtype
    changed = [mels[0], mels[1] * 3 + 7, mels[2][:, :10]]             # the other files change, file 0 does not
    np.testing.assert_array_equal(standardize.centre_utterances(changed)[0], centred[0])
    with pytest.raises(ValueError, match="input_norm"):
        standardize.encoder_inputs(mels, ["a"] * 3, "band", np.zeros(64), np.ones(64))


def test_shape_flattening_keeps_level_and_tilt_and_uses_only_that_files_own_audio():
    rng = np.random.default_rng(1)
    bands = np.arange(64)[:, None]
    # each file: a level, a tilt, a formant-like bump in its long-term spectrum, and frame-to-frame variation
    mels = [(lvl + tilt * bands + 3 * np.exp(-((bands - c) / 4.0) ** 2) + rng.normal(size=(64, n))).astype(np.float32)
            for lvl, tilt, c, n in ((2.0, -0.05, 20, 60), (-1.0, 0.02, 40, 90), (0.5, 0.0, 10, 30))]
    flat = standardize.flatten_utterances(mels)
    for m, f in zip(mels, flat):
        ltas, kept = m.mean(axis=1), f.mean(axis=1)
        line = np.polyval(np.polyfit(np.arange(64), ltas, 1), np.arange(64))
        np.testing.assert_allclose(kept, line, atol=1e-4)                      # a straight line is what stays
        np.testing.assert_allclose(kept.mean(), ltas.mean(), atol=1e-4)         # its level
        np.testing.assert_allclose(np.polyfit(np.arange(64), kept, 1)[0], np.polyfit(np.arange(64), ltas, 1)[0],
                                   atol=1e-5)                                   # and its tilt
        np.testing.assert_allclose(f.std(axis=1), m.std(axis=1), rtol=1e-4)    # the spread over time is kept
        assert f.dtype == m.dtype
    np.testing.assert_allclose(standardize.flatten_utterances(flat)[1], flat[1], atol=1e-4)  # twice = once
    changed = [mels[0] * 2 - 5, mels[1], mels[2][:, :5]]
    np.testing.assert_array_equal(standardize.flatten_utterances(changed)[1], flat[1])
    assert standardize.encoder_inputs(mels, ["a"] * 3, "shape", np.zeros(64), np.ones(64))[0][2].tolist() == flat[2].tolist()


@pytest.mark.parametrize("input_norm, step", [("utterance", standardize.centre_utterances), ("shape", standardize.flatten_utterances)])
def test_per_file_input_encoder_embeds_each_file_from_itself_alone(tmp_path, input_norm, step):
    """An encoder pretrained on per-file normalised log-mels embeds a held-out file from that file and the
    encoder's saved training statistics only: the same vector whatever else is embedded with it."""
    meta = load_corpus("synthetic")
    cfg = pretrain_config.profile_config("smoke", epochs=1, knn_every=10, keep_epochs=(), input_norm=input_norm)
    pretrain.pretrain_fold(meta, 0, cfg, tmp_path, progress=False)
    emb = encoders.fold_embeddings(meta, tmp_path, folds=[0], progress=False, cache=False)[0]
    model, info = encoders.load_encoder(tmp_path, 0)
    assert encoders.input_norm(info) == input_norm and not encoders.speaker_input(info)
    from emolib.data.features import log_mels

    i = int(np.flatnonzero(meta.speaker.astype(str) == "03")[0])  # a test speaker's file of fold 0
    [mel] = log_mels(meta.path.iloc[[i]], progress=False)
    norm = info["normalization"]
    alone = embed(model, step([mel]), np.array(norm["mean"]), np.array(norm["std"]),
                  info["backbone"]["frames"])
    np.testing.assert_allclose(emb[i], alone[0], rtol=1e-5, atol=1e-5)
    with_global = embed(model, [mel], np.array(norm["mean"]), np.array(norm["std"]), info["backbone"]["frames"])
    assert not np.allclose(emb[i], with_global[0], atol=1e-3)  # the per-file step is applied, not skipped


def test_finetune_command_feeds_a_per_speaker_input_encoder_per_speaker_inputs(tmp_path, monkeypatch):
    from emolib import cli
    from emolib.core import env
    from emolib.evaluation import finetune

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    meta = load_corpus("synthetic")
    cfg = pretrain_config.profile_config("smoke", epochs=1, knn_every=10, keep_epochs=(), input_norm="speaker")
    pretrain.pretrain_folds(meta, cfg, tmp_path / "enc", progress=False)
    seen, real = [], finetune.encoder_inputs
    monkeypatch.setattr(finetune, "encoder_inputs", lambda *a: seen.append(a[2]) or real(*a))
    assert cli.main(["finetune", "--out", str(tmp_path / "enc"), "--run", "ft_speaker_input", "--profile", "smoke",
                     "--corpus", "synthetic", "--device", "cpu", "--quiet"]) == 0
    row = json.loads((env.run_dir(env.RESULTS, "synthetic", "smoke") / "ft_speaker_input.json").read_text())
    assert seen == ["speaker"] * 5  # each fold's inputs as the encoder was pretrained on them
    assert row["speaker_norm"] and row["n"] == len(meta) and row["config"]["finetune"]["epochs"] == 1
    assert row["config"]["encoder"]["pretext"]["input_norm"] == "speaker" and "fine-tuned" in row["method"]
    # a fusion without speaker normalisation cannot take these embeddings: refused before any work
    from emolib.systems import fusion

    with pytest.raises(EmolibError, match="per-speaker inputs"):
        fusion.make_bases(meta, ["moco", "cnn"], "si5", {"moco": tmp_path / "enc"}, "smoke", False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_speaker_batches_under_two_gloo_processes(tmp_path):
    """Each process draws its own speaker's batch (their sizes may differ); keys are gathered
    with padding, and the run ends with a finite loss and a checkpoint."""
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
                        f"--master-port={_free_port()}", "-m", "emolib", "pretrain", "--corpus", "synthetic",
                        "--profile", "smoke", "--fold", "2", "--epochs", "1", "--knn-every", "5", "--device", "cpu",
                        "--batch-by", "speaker", "-b", "8", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    history = [json.loads(x) for x in (tmp_path / "fold2" / "history.jsonl").read_text().splitlines()]
    # 8 training speakers x 21 utterances in batches of at most 8: 3 per speaker, 24 in all, 12 steps of 2
    assert history[0]["step"] == 12 and np.isfinite(history[0]["loss"])


def test_pretrain_flags_are_checked_before_any_work(capsys):
    from emolib import cli

    # in this process (the command line's own path is tested in test_moco): each refusal is one line, before
    # the corpus is read or anything is written
    for flags, needle in ((["--warp", "1.5"], "--warp 1.5"), (["--adversary", "-1"], "--adversary -1"),
                          (["--formant", "1.5"], "--formant 1.5"), (["--pitch", "-0.1"], "--pitch -0.1"),
                          (["--aug", "bogus"], "--aug 'bogus'"), (["--fold", "abc"], "--fold abc"),
                          (["--frames", "100"], "--frames 100"), (["--patch-size", "7"], "--patch-size 7")):
        assert cli.main(["pretrain", *flags, "--out", "/nonexistent"]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit) as e:
        cli.main(["pretrain", "--batch-by", "room"])
    assert e.value.code == 2 and "--batch-by" in capsys.readouterr().err


def test_a_learner_is_a_variant_with_a_statistics_read_out(tmp_path, monkeypatch):
    from emolib.core import env
    from emolib.evaluation.runs import RunName
    from emolib.studies import learners

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    base = replace(pretrain_config.profile_config("smoke"), epochs=1, knn_every=10, keep_epochs=(), warp=0.15,
                   objective="both")
    cfg = ablation.variant_config("cnn_sig", base)  # the recipe's pretext and objective, this learner's changes
    assert (cfg.arch, cfg.targets, cfg.objective, cfg.warp, cfg.epochs) == ("resnet10t_half", "functionals", "moco", 0.0, 1)
    assert ablation.variant_config("masked", base).objective == "masked" and ablation.variant_config("cnn", base).objective == "moco"
    assert RunName.parse("ssl_cnn_sig_stats_seed2_spknorm") == RunName("ssl_cnn_sig", "stats", 2, True)
    assert str(ablation.run_name("cnn", "e80", 2, stats=True)) == "ssl_cnn_e80_stats_seed2"
    for tag in ("sig", "stats", "cpu_stats"):  # rows that would read as learner cnn_sig's, or as a read-out's
        with pytest.raises(EmolibError, match=f"--tag {tag}"):
            ablation.run_name("cnn", tag)
    rows = ablation.run_variant(load_corpus("synthetic"), "masked", tmp_path / "enc", base=base, profile="smoke",
                                corpus="synthetic", progress=False, log=None)
    assert [r["run"] for r in rows] == ["ssl_masked", "ssl_masked_spknorm", "ssl_masked_stats", "ssl_masked_stats_spknorm"]
    assert rows[0]["config"]["encoder"]["pretrain"]["objective"] == "masked" and rows[2]["config"]["readout"]["stats"]
    assert rows[0]["method"].startswith("masked log-mel prediction vit_tiny/")  # called what it is, not MoCo v3
    cnn_sig = {"arch": "resnet10t_half", "depth": 6, "pretrain": {"objective": "none", "targets": "functionals"}}
    assert encoders.describe_learner(cnn_sig) == "signal-derived targets (functionals, self-supervised) resnet10t_half"
    assert rows[0]["uar"] != rows[2]["uar"] or rows[0]["wa"] != rows[2]["wa"]  # another read-out, other predictions
    line = ablation.summary(["masked"], profile="smoke", corpus="synthetic").loc["masked"]
    assert (line["uar"], line["uar_stats"], line["uar_stats_spknorm"]) == (rows[0]["uar"], rows[2]["uar"], rows[3]["uar"])
    seeds = learners.seed_table(["ssl_masked", "ssl_masked_stats"], env.run_dir(env.RESULTS, "synthetic", "smoke"))
    assert seeds.loc[("ssl_masked_stats", True), "uar_mean"] == rows[3]["uar"] and seeds.loc[("ssl_masked", False), "seeds"] == "0"
    assert seeds.loc[("ssl_masked", False), "speaker_5nn"] == rows[0]["neighbours"]["speaker_acc"]


def test_ablation_variant_writes_rows_with_neighbours_and_encoder_hashes(tmp_path, monkeypatch):
    from emolib.core import env

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    meta = load_corpus("synthetic")
    base = replace(pretrain_config.profile_config("smoke"), epochs=1, knn_every=10, keep_epochs=())
    rows = ablation.run_variant(meta, "speaker_input", tmp_path / "enc", base=base, profile="smoke",
                                corpus="synthetic", progress=False, log=None)
    assert [r["run"] for r in rows] == ["ssl_speaker_input", "ssl_speaker_input_spknorm"]
    assert all(r["speaker_norm"] for r in rows)  # per-speaker input statistics: never a raw row
    enc = rows[0]["config"]["encoder"]
    assert enc["pretext"]["input_norm"] == "speaker" and len(enc["sha256"]) == 5 and rows[0]["config"]["variant"] == "speaker_input"
    assert enc["pretrain"]["epochs"] == 1 and "speaker input statistics" in rows[0]["method"]
    assert 0 <= rows[0]["neighbours"]["speaker_acc"] <= 1 and len(rows[0]["neighbours"]["per_fold"]) == 5
    table = ablation.summary(["speaker_input"], profile="smoke", corpus="synthetic")
    assert table.loc["speaker_input", "uar"] == rows[0]["uar"]
    with pytest.raises(Exception, match="no rows ssl_warp"):
        ablation.summary(["warp"], profile="smoke", corpus="synthetic")
    # a second seed (rows ..._seed1, named by the seed itself) and the summary over seeds
    again = ablation.run_variant(meta, "speaker_input", tmp_path / "enc", base=replace(base, seed=1), profile="smoke",
                                 corpus="synthetic", progress=False, log=None)
    assert [r["run"] for r in again] == ["ssl_speaker_input_seed1", "ssl_speaker_input_seed1_spknorm"]
    assert again[0]["config"]["encoder"]["pretrain"]["seed"] == 1 and (tmp_path / "enc" / "speaker_input_seed1").is_dir()
    with pytest.raises(EmolibError, match="--tag cpu_seed1: name the budget only"):
        ablation.run_name("warp", "cpu_seed1")
    folder = env.run_dir(env.RESULTS, "synthetic", "smoke")
    assert ablation.seeds_found(folder) == [0, 1]
    seeds = ablation.seed_summary(folder=folder)
    uars = [rows[0]["uar"], again[0]["uar"]]
    assert seeds.loc["speaker_input", "seeds"] == 2 and seeds.loc["speaker_input", "uar"] == pytest.approx(np.mean(uars))
    assert seeds.loc["speaker_input", "uar_sd"] == pytest.approx(np.std(uars, ddof=1))
    assert study_tables.seeds_markdown(seeds).count("\n") == 2
    # the same rows at a budget tagged cpu (seed 0 tagged cpu, seed 1 tagged cpu_seed1): the same summary
    for src, dst in (("", "_cpu"), ("_seed1", "_cpu_seed1")):
        for end in ("", "_spknorm"):
            shutil.copy(folder / f"ssl_speaker_input{src}{end}.json", folder / f"ssl_speaker_input{dst}{end}.json")
    assert ablation.seeds_found(folder, tag="cpu") == [0, 1] and ablation.seeds_found(folder, tag="e300") == [0]
    pd.testing.assert_frame_equal(ablation.seed_summary(folder=folder, tag="cpu"), seeds)
    with pytest.raises(Exception, match="tagged e300 .* --seed S --tag e300"):
        ablation.seed_summary(seeds=[0, 1], folder=folder, tag="e300")
    with pytest.raises(Exception, match="unknown variant"):
        ablation.variant_config("louder")


def test_seeds_found_reads_a_variant_then_exactly_the_tag(tmp_path):
    for stem in ("ssl_warp", "ssl_warp_seed1", "ssl_warp_cpu", "ssl_warp_cpu_seed2", "ssl_warp_speaker_input_seed3",
                 "ssl_warp_e300_cpu_seed4", "ssl_warp_cpu_seed5_spknorm", "ssl_raw_side_by_side_cpu_seed6"):
        (tmp_path / f"{stem}.json").write_text("{}")
    assert ablation.seeds_found(tmp_path) == [0, 1, 3]  # seeds of the profile's budget: untagged
    assert ablation.seeds_found(tmp_path, tag="cpu") == [0, 2]  # not e300_cpu's seed 4, not a side-by-side run
    assert ablation.seeds_found(tmp_path, tag="e300_cpu") == [0, 4]
    assert [str(ablation.run_name("warp", t, s)) for s, t in ((0, ""), (2, ""), (0, "cpu"), (2, "cpu"))] == [
        "ssl_warp", "ssl_warp_seed2", "ssl_warp_cpu", "ssl_warp_cpu_seed2"]


def test_the_pretext_defaults_are_the_pretraining_defaults():
    defaults = pretrain_config.PretrainConfig().to_dict()
    assert {k: defaults[k] for k in shortcut.OPTIONS} == shortcut.DEFAULTS
    assert pretrain_config.profile_config("smoke").to_dict() == pretrain_config.profile_config("smoke", "report").to_dict()


def test_the_default_encoder_is_a_named_variant_and_the_ablation_pins_the_recipe():
    from emolib.core import budgets

    cfg, out = pretrain_config.default_encoder("smoke", "synthetic")
    variant = budgets.DEFAULT_PRETEXT
    budget = pretrain_config.profile_config("smoke")
    assert variant in shortcut.VARIANTS and cfg.to_dict() == replace(budget, **shortcut.VARIANTS[variant]).to_dict()
    assert out == pretrain_config.default_out("synthetic", "smoke") / variant  # never the recipe's folder
    assert pretrain_config.default_out("synthetic", "smoke", variant="report") == pretrain_config.default_out("synthetic", "smoke")
    # an ablation variant means the same whatever the base's pretext: the recipe's options, then its own
    base = replace(budget, warp=0.15, input_norm="speaker", batch_by="speaker")
    assert {k: getattr(ablation.variant_config("report", base), k) for k in shortcut.OPTIONS} == shortcut.DEFAULTS
    assert ablation.variant_config("pitch", base).warp == 0 and ablation.variant_config("pitch", base).pitch == 0.15
    # an encoder's rows are named by its pretext
    assert encoder_prefix(shortcut.DEFAULTS) == "moco"
    assert encoder_prefix(shortcut.VARIANTS[variant]) == f"moco_{variant}"
    assert encoder_prefix({"warp": 0.07}) == "moco_custom" and shortcut.variant_of({}, "crop") == "crop"
    with pytest.raises(EmolibError, match="--variant 'loud'"):
        pretrain_config.profile_config("smoke", "loud")
    # the pretrain command's default folder is named by the options it runs with, not by --variant alone
    assert shortcut.variant_of(replace(budget, warp=0.15).to_dict(), "report") == "warp"
    assert shortcut.variant_of({"aug": "crop"}) == "crop" and shortcut.variant_of({"warp": 0.07}) is None
    # encoders a use cannot take are refused, naming the folder
    summary = {"protocol": "emobox", "pretext": {**shortcut.DEFAULTS, "input_norm": "speaker"}}
    with pytest.raises(EmolibError, match="enc: its encoders were pretrained on emobox folds, not si5"):
        encoders.require(summary, "enc", "si5")
    with pytest.raises(EmolibError, match="enc: pretrained on per-speaker inputs"):
        encoders.require({**summary, "protocol": "si5"}, "enc", "si5", raw=True)
    encoders.require({**summary, "protocol": "si5"}, "enc", "si5")  # fine-tuning may take per-speaker inputs


def test_the_readme_probe_table_shows_the_recipe_and_the_default_encoder(tmp_path):
    from emolib.core import budgets
    runs = [run for _, _, run in tables.probe_rows()]
    assert "moco_probe_logreg" in runs and "moco_finetune" in runs
    if budgets.DEFAULT_PRETEXT != "report":
        prefix = encoder_prefix(shortcut.VARIANTS[budgets.DEFAULT_PRETEXT])
        assert f"{prefix}_probe_logreg" in runs and f"{prefix}_finetune" in runs
        row = {"run": f"{prefix}_probe_logreg", "uar": 0.5, "speaker_norm": True}
        (tmp_path / f"{prefix}_probe_logreg.json").write_text(json.dumps(row))
        assert "| 50.0 % ‡ |" in tables.probes_markdown(tmp_path)  # a per-speaker-input row is marked


def test_signal_targets_are_label_free_and_come_from_each_training_speakers_own_audio(tmp_path):
    from emolib.data.splits import speaker_folds
    from emolib.ssl.inputs import fold_data, frame_targets, functional_targets

    meta = load_corpus("synthetic")
    cfg = pretrain_config.profile_config("smoke", epochs=1, knn_every=10, keep_epochs=(), objective="none",
                                         targets="both", batch_by="none", input_norm="global", warp=0.0)
    fold = speaker_folds(meta)[0]
    data = fold_data(meta, 0, cfg, progress=False)
    # the frame descriptors: the training utterances' own, over their log-mels' frames, standardised per speaker
    lengths = [m.shape[1] for m in data.train_mels]
    frames = frame_targets(meta.iloc[fold.train], lengths)
    assert data.frame_targets.data.shape == (25, sum(lengths))
    np.testing.assert_array_equal(data.frame_targets.data.numpy(), np.concatenate(frames, axis=1))
    for s in set(data.train_speakers):
        own = np.flatnonzero(data.train_speakers == s)
        assert np.abs(np.concatenate([frames[i] for i in own], axis=1).mean(axis=1)).max() < 1e-4
        alone = frame_targets(meta.iloc[fold.train[own]], [lengths[i] for i in own])
        np.testing.assert_allclose(np.concatenate(alone, axis=1), np.concatenate([frames[i] for i in own], axis=1),
                                   atol=1e-5)
    # a clean crop and its descriptors over the very same frames
    g = torch.Generator().manual_seed(0)
    x, t = data.frame_batch(torch.tensor([0, 1]), g)
    start = data.views.crop.starts(data.views.clean.lengths[torch.tensor([0, 1])], torch.Generator().manual_seed(0))
    k = int(start[0])
    np.testing.assert_array_equal(t[0].numpy(), frames[0][:, k:k + cfg.frames])
    std = data.normalization
    np.testing.assert_allclose(x[0, 0].numpy(), (data.train_mels[0][:, k:k + cfg.frames] - np.array(std.mean)[:, None])
                               / np.array(std.std)[:, None], rtol=1e-4, atol=1e-4)
    assert data.targets.shape == (len(fold.train), 88) and np.isfinite(data.targets).all()
    np.testing.assert_array_equal(data.targets, functional_targets(meta.iloc[fold.train]))
    for s in set(data.train_speakers):  # standardised within each training speaker, on its own utterances
        rows = data.train_speakers == s
        assert np.abs(data.targets[rows].mean(axis=0)).max() < 1e-4
        # another speaker's audio moves none of this speaker's targets
        alone = functional_targets(meta.iloc[fold.train][meta.speaker.astype(str).iloc[fold.train].to_numpy() == s])
        np.testing.assert_allclose(alone, data.targets[rows], atol=1e-6)
    shuffled = meta.copy()
    shuffled["emotion"] = shuffled.emotion.sample(frac=1, random_state=0).to_numpy()
    pretrain.pretrain_fold(meta, 0, cfg, tmp_path / "a", progress=False)
    pretrain.pretrain_fold(shuffled, 0, cfg, tmp_path / "b", progress=False)
    a, b = _fold_weights(tmp_path / "a" / "fold0"), _fold_weights(tmp_path / "b" / "fold0")
    assert all(torch.equal(a[k], b[k]) for k in a)
    state = checkpoints.load_checkpoint(tmp_path / "a" / "fold0" / "checkpoint.pt")["model"]
    assert "regressor.weight" in state and "frame_regressor.weight" in state
    assert encoder_prefix(shortcut.DEFAULTS, objective="none", targets="functionals") == "sig"
    assert encoder_prefix(shortcut.DEFAULTS, targets="functionals", arch="resnet10t_half") == "moco_sig_resnet10t_half"
    with pytest.raises(EmolibError, match="--targets"):
        pretrain_config.profile_config("smoke", objective="none")


def test_the_learners_table_prints_from_the_committed_rows_and_learners_without_table_is_refused(capsys):
    from emolib import cli

    assert cli.main(["ablation", "--table", "--learners", "--profile", "full", "--corpus", "emodb"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| rows | seeds |") and "| ssl_report | 0, 1, 2, 3 |" in out and "| reference |" in out
    assert cli.main(["ablation", "--learners"]) == 2
    assert "--variants cnn" in capsys.readouterr().err
    assert cli.main(["ablation", "--variants", "report", "cnn", "-a", "vit_small", "--tag", "vits"]) == 2
    assert "cnn train their own encoder" in capsys.readouterr().err

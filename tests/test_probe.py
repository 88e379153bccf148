"""Encoders, probes and fine-tuning (emolib.ssl.encoders, emolib.evaluation.probes, emolib.evaluation.finetune) on the
synthetic corpus, with encoders exported per fold as the pretraining run writes them (random
weights: these tests check the plumbing, the protocol and the probes, not what pretraining learns)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import export_folds

from emolib import cli
from emolib.core import env
from emolib.core.errors import EmolibError
from emolib.data.corpus import load_corpus
from emolib.data.emodb import CLASSES
from emolib.data.features import Standardizer, log_mels
from emolib.data.splits import speaker_folds
from emolib.evaluation import finetune, metrics, probes, results
from emolib.models import vit
from emolib.ssl import encoders

TINY = vit.BackboneConfig("vit_tiny", depth=2, n_mels=64, frames=96, patch_size=16)


@pytest.fixture(scope="module")
def meta():
    return load_corpus("synthetic")


def test_missing_or_foreign_encoders_are_clear_errors(meta, tmp_path):
    with pytest.raises(EmolibError, match=r"fold 2: no final encoder at .*fold2/backbone\.safetensors.*pretrain"):
        encoders.load_encoder(tmp_path, 2)
    export_folds(meta, tmp_path)
    with pytest.raises(EmolibError, match=r"fold 1: no epoch-5 encoder .*--keep-epochs 5"):
        encoders.load_encoder(tmp_path, 1, epoch=5)
    for suffix in (".json", ".safetensors"):  # fold 0's encoder put in fold 1's place
        src = encoders.backbone_path(tmp_path, 0).with_suffix(suffix)
        encoders.backbone_path(tmp_path, 1).with_suffix(suffix).write_bytes(src.read_bytes())
    with pytest.raises(EmolibError, match=r"fold1/backbone\.json was pretrained for fold 0, not fold 1"):
        encoders.load_encoder(tmp_path, 1)
    encoders.backbone_path(tmp_path, 3).with_suffix(".safetensors").write_bytes(b"not safetensors")
    with pytest.raises(EmolibError, match="fold 3"):
        encoders.load_encoder(tmp_path, 3)
    model, info = encoders.load_encoder(tmp_path, 4)
    assert info["fold"] == 4 and not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_fold_embeddings_use_each_folds_encoder_and_are_cached_by_content(meta, tmp_path, monkeypatch):
    export_folds(meta, tmp_path)
    emb = encoders.fold_embeddings(meta, tmp_path, progress=False)
    assert sorted(emb) == [0, 1, 2, 3, 4]
    assert all(v.shape == (len(meta), 192) and np.isfinite(v).all() for v in emb.values())
    assert not np.allclose(emb[0], emb[1])  # another fold, another encoder
    # computed by hand for fold 2: the encoder over windows of the utterance, with fold 2's statistics
    model, info = encoders.load_encoder(tmp_path, 2)
    norm = info["normalization"]
    mels = log_mels(meta.path[:3], progress=False)
    by_hand = vit.embed(model, mels, np.array(norm["mean"]), np.array(norm["std"]), 96)
    np.testing.assert_allclose(emb[2][:3], by_hand, rtol=1e-5, atol=1e-5)

    def no_embedding(*a, **k):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(encoders, "embed", no_embedding)
    again = encoders.fold_embeddings(meta, tmp_path, progress=False)
    assert all(np.array_equal(again[k], emb[k]) for k in emb)
    monkeypatch.undo()
    export_folds(meta, tmp_path, seed=100)  # retrained encoders: never served the old vectors
    fresh = encoders.fold_embeddings(meta, tmp_path, folds=[0], progress=False)
    assert not np.allclose(fresh[0], emb[0])
    wide = encoders.fold_embeddings(meta, tmp_path, folds=[0], blocks=2, progress=False)
    assert wide[0].shape == (len(meta), 2 * 192)
    np.testing.assert_allclose(wide[0][:, 192:], fresh[0], rtol=1e-4, atol=1e-4)  # the last block


def label_features(meta, signal, seed=0, width=16):
    """Features that carry the emotion with strength ``signal`` (0: pure noise)."""
    rng = np.random.default_rng(seed)
    onehot = np.eye(len(CLASSES))[[CLASSES.index(e) for e in meta.emotion.astype(str)]]
    return np.hstack([signal * onehot, rng.normal(size=(len(meta), width))])


@pytest.mark.parametrize("make", [lambda: probes.logreg_probe(), lambda: probes.torch_probe(probes.HeadConfig(epochs=30))])
def test_probes_find_a_linear_signal_and_nothing_in_noise(meta, make):
    strong = {k: label_features(meta, 3.0, seed=k) for k in range(5)}
    noise = {k: label_features(meta, 0.0, seed=k) for k in range(5)}
    good = probes.probe_cv(meta, strong, make())
    bad = probes.probe_cv(meta, noise, make())
    assert list(good.columns) == metrics.PREDICTION_COLUMNS + metrics.PROBABILITY_COLUMNS and len(good) == len(meta)
    np.testing.assert_allclose(metrics.probabilities(good).sum(axis=1), 1.0, atol=1e-6)
    assert metrics.uar(good.y_true, good.y_pred) > 0.95
    assert metrics.uar(bad.y_true, bad.y_pred) < 0.35
    folds = speaker_folds(meta, "si5")
    for k, g in good.groupby("fold"):  # each utterance predicted by the fold that held its speaker out
        assert set(g.speaker) == set(folds[k].test_speakers)


def test_probe_cv_gives_each_fold_its_own_features_and_the_c_search_only_training_speakers(meta):
    seen = []

    def spy(X_train, y_train, X_test, groups):
        seen.append((X_train[0, 0], set(groups)))
        return np.array([CLASSES[0]] * len(X_test))

    feats = {k: np.full((len(meta), 2), float(k)) for k in range(5)}
    probes.probe_cv(meta, feats, spy)
    folds = speaker_folds(meta, "si5")
    assert [x for x, _ in seen] == [0.0, 1.0, 2.0, 3.0, 4.0]
    for (_, groups), f in zip(seen, folds):
        assert groups == set(meta.speaker.astype(str).to_numpy()[f.train])
        assert not groups & set(f.test_speakers)
    with pytest.raises(EmolibError, match=r"folds \[4\]"):
        probes.probe_cv(meta, {k: feats[k] for k in range(4)}, spy)


def test_speaker_normalisation_removes_a_speaker_offset(meta):
    rng = np.random.default_rng(0)
    speakers = meta.speaker.astype(str)
    offset = speakers.map({s: i * 5.0 for i, s in enumerate(sorted(speakers.unique()))}).to_numpy()
    X = label_features(meta, 0.6) + offset[:, None] * rng.normal(size=(1, 23))
    feats = {k: X for k in range(5)}
    raw = probes.probe_cv(meta, feats, probes.logreg_probe(1.0))
    normed = probes.probe_cv(meta, feats, probes.logreg_probe(1.0), speaker_norm=True)
    assert metrics.uar(normed.y_true, normed.y_pred) > metrics.uar(raw.y_true, raw.y_pred) + 0.1


def test_torch_probe_is_seeded_and_leaves_the_global_rng_alone(meta):
    X = label_features(meta, 0.5)
    y = meta.emotion.astype(str).to_numpy()
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    cfg = probes.HeadConfig(epochs=5, seed=7)
    a = probes.torch_probe(cfg)(X[:150], y[:150], X[150:])
    after = torch.rand(1)
    b = probes.torch_probe(cfg)(X[:150], y[:150], X[150:])
    assert np.array_equal(a, b) and torch.equal(before, after)


def test_random_floor_is_seeded_and_leaves_the_global_rng_alone(meta):
    sub = meta.iloc[::7].reset_index(drop=True)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a = encoders.random_embeddings(sub, TINY, seed=3)
    after = torch.rand(1)
    b = encoders.random_embeddings(sub, TINY, seed=3, mels=log_mels(sub.path, progress=False))  # the caller's log-mels
    assert torch.equal(before, after) and all(np.array_equal(a[k], b[k]) for k in a)
    assert sorted(a) == [0, 1, 2, 3, 4] and a[0].shape == (len(sub), 192)


def test_layerwise_lr_decay_groups():
    model = finetune.Classifier(vit.create_backbone(TINY))
    cfg = finetune.FinetuneConfig(layer_decay=0.5)
    groups = finetune._layer_groups(model, cfg)
    scale = {id(p): g["scale"] for g in groups for p in g["params"]}
    assert scale[id(model.head.weight)] == 1.0
    assert scale[id(model.backbone.blocks[1].attn.qkv.weight)] == 0.5
    assert scale[id(model.backbone.blocks[0].attn.qkv.weight)] == 0.25
    assert scale[id(model.backbone.patch_embed.proj.weight)] == 0.125
    assert id(model.backbone.pos_embed) not in scale  # fixed sin-cos positions are not trained
    no_decay = {id(p) for g in groups if g["weight_decay"] == 0 for p in g["params"]}
    assert id(model.backbone.cls_token) in no_decay and id(model.head.bias) in no_decay
    assert id(model.head.weight) not in no_decay
    assert sum(len(g["params"]) for g in groups) == sum(p.requires_grad for p in model.parameters())


def test_finetuning_from_an_encoder_and_from_scratch(meta, tmp_path):
    export_folds(meta, tmp_path)
    cfg = finetune.FinetuneConfig(epochs=2, crops_per_epoch=1, batch_size=16, warmup_epochs=1)
    pred, hist = finetune.finetune_fold(meta, 1, cfg, tmp_path, progress=False)
    f = speaker_folds(meta, "si5")[1]
    assert set(pred.speaker) == set(f.test_speakers) and len(pred) == len(f.test)
    assert list(pred.columns) == metrics.PREDICTION_COLUMNS + metrics.PROBABILITY_COLUMNS and set(pred.y_pred) <= set(CLASSES)
    assert list(hist.epoch) == [1, 2] and np.isfinite(hist.train_loss).all()
    again, _ = finetune.finetune_fold(meta, 1, cfg, tmp_path, progress=False)
    pd.testing.assert_frame_equal(pred, again)  # same seed, same predictions
    scratch, _ = finetune.finetune_fold(meta, 1, cfg, None, TINY, progress=False)
    assert len(scratch) == len(pred)
    # the pretrained weights were the starting point: the encoder on disk is unchanged
    model, _ = encoders.load_encoder(tmp_path, 1)
    torch.manual_seed(1)
    fresh = vit.create_backbone(TINY)
    torch.testing.assert_close(model.blocks[0].attn.qkv.weight, fresh.blocks[0].attn.qkv.weight)
    with pytest.raises(ValueError, match="backbone_cfg"):
        finetune.finetune_fold(meta, 1, cfg, None, progress=False)
    with pytest.raises(ValueError, match="FinetuneConfig.epochs must be at least 1"):
        finetune.FinetuneConfig(epochs=0)


def test_embedding_read_outs_are_checked():
    model = vit.create_backbone(TINY)
    mel = np.zeros((64, 200), np.float32)
    with pytest.raises(ValueError, match=r"blocks must be 1\.\.2"):
        vit.embed(model, [mel], np.zeros(64), np.ones(64), 96, blocks=4)
    with pytest.raises(ValueError, match="pool must be"):
        vit.embed(model, [mel], np.zeros(64), np.ones(64), 96, pool="max")


def test_utterance_logits_average_windows():
    class Echo(torch.nn.Module):  # logit = mean of the window
        def forward(self, x):
            return x.mean(dim=(1, 2, 3))[:, None].repeat(1, 2)

    mel = np.concatenate([np.zeros((4, 8)), np.ones((4, 8))], axis=1).astype(np.float32)
    std = Standardizer(np.zeros(4, np.float32), np.ones(4, np.float32))
    out = finetune.utterance_logits(Echo(), [mel, mel[:, :8]], std, frames=8)
    np.testing.assert_allclose(out[:, 0], [0.5, 0.0])


def test_probe_command_writes_both_rows_and_names_the_encoders(meta, tmp_path, monkeypatch, capsys):
    enc = tmp_path / "encoders"
    assert cli.main(["probe", "--out", str(enc), "--run", "long", "--corpus", "synthetic"]) == 2
    assert "fold 0: no final encoder" in capsys.readouterr().err
    export_folds(meta, enc)
    info = json.loads(encoders.backbone_path(enc, 0).with_suffix(".json").read_text())
    info["device"] = "NVIDIA H100 80GB HBM3"  # as pretraining on a GPU records it
    encoders.backbone_path(enc, 0).with_suffix(".json").write_text(json.dumps(info))
    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(env, "REPO", tmp_path)  # encoders inside the repository are recorded relative to it
    assert cli.main(["probe", "--out", str(enc), "--run", "long", "--corpus", "synthetic",
                     "--profile", "smoke"]) == 0
    printed = capsys.readouterr().out
    folder = tmp_path / "results" / "synthetic-smoke"
    emb = encoders.fold_embeddings(meta, enc, progress=False)
    for run, norm in (("long", False), ("long_spknorm", True)):
        row = json.loads((folder / f"{run}.json").read_text())
        assert row["speaker_norm"] is norm and row["profile"] == "smoke" and row["corpus"] == "synthetic"
        assert "vit_tiny/2, 3 epochs" in row["method"] and "(NVIDIA H100 80GB HBM3)" in row["method"]
        assert row["config"]["encoder"]["device"] == "NVIDIA H100 80GB HBM3" and row["config"]["encoders"] == "encoders"
        assert f"{run}: UAR {100 * row['uar']:.1f} %" in printed
        # the same numbers as the probe called by hand
        pred = probes.probe_cv(meta, emb, probes.logreg_probe(probes.budget("smoke")["logreg_C"]), speaker_norm=norm)
        assert row["uar"] == metrics.uar(pred.y_true, pred.y_pred)
    assert results.verify_results(folder) == 2


def test_encoders_of_another_protocols_folds_get_rows_of_their_own(meta, tmp_path, monkeypatch):
    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    enc = tmp_path / "encoders"
    export_folds(meta, enc)

    def set_protocol(k, protocol):
        path = encoders.backbone_path(enc, k).with_suffix(".json")
        path.write_text(json.dumps({**json.loads(path.read_text()), "pretrain": {"protocol": protocol}}))

    for k in range(5):
        set_protocol(k, "emobox")
    seen = []
    si5_pred = probes.probe_cv(meta, encoders.fold_embeddings(meta, enc, progress=False), probes.logreg_probe(1.0))

    def fake_cv(meta, emb, fit, speaker_norm=False, folds=None, protocol="si5", calibrate=False):
        seen.append(protocol)  # the probe must run on the folds the encoders were pretrained on
        return si5_pred

    monkeypatch.setattr(probes, "probe_cv", fake_cv)
    rows = probes.probe_checkpoints(meta, enc, "long", profile="smoke", corpus="synthetic", progress=False)
    folder = env.run_dir(env.RESULTS, "synthetic", "smoke")
    assert [r["run"] for r in rows] == ["long_emobox", "long_spknorm_emobox"] and seen == ["emobox", "emobox"]
    assert {r["protocol"] for r in rows} == {"EmoBox 5-fold (speaker-dependent)"}
    assert not (folder / "long.json").exists() and not (folder / "long_spknorm.json").exists()
    set_protocol(3, "si5")
    with pytest.raises(EmolibError, match="fold 0 was pretrained on emobox folds, fold 3 on si5"):
        probes.probe_checkpoints(meta, enc, "long", profile="smoke", corpus="synthetic", progress=False)


def test_probe_study_writes_every_row_saying_how_it_was_made(meta, tmp_path, monkeypatch):
    import dataclasses

    from emolib.core import devices
    from emolib.ssl import pretrain_config
    from emolib.studies import probing

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    enc = tmp_path / "encoders"
    export_folds(meta, enc)
    cfg = pretrain_config.PretrainConfig(depth=TINY.depth, frames=TINY.frames, patch_size=TINY.patch_size, seed=5)
    emb, random = probing.study_embeddings(meta, enc, cfg, progress=False)
    assert set(emb) == {"cls", "mean", "cls×2"} and emb["cls×2"][0].shape[1] == 2 * emb["cls"][0].shape[1]
    table, preds = probing.probe_study(meta, enc, cfg, emb, random, {"logreg_C": (1.0,), "head_epochs": 3},
                                       profile="smoke", corpus="synthetic")
    runs = [f"{r}{n}" for r in ("vit_random_probe_logreg", "moco_probe_logreg", "moco_probe_logreg_mean",
                                "moco_probe_logreg_cls_last_blocks", "moco_probe_torch") for n in ("", "_spknorm")]
    assert list(table.run) == runs and set(preds) == set(runs)
    folder = env.run_dir(env.RESULTS, "synthetic", "smoke")
    assert results.verify_results(folder) == len(runs)
    sha = encoders.encoder_summary(enc)["sha256"]
    for run in runs:
        row = json.loads((folder / f"{run}.json").read_text())
        assert {"commit", "dirty", "date", "device", "config"} <= set(row), run
        assert {"seed", "probe", "readout", "encoder"} <= set(row["config"]), run
        if run.startswith("vit_random"):
            assert row["config"]["encoder"] == {"random_init": dataclasses.asdict(cfg.backbone()), "seed": 5}
        else:
            assert row["config"]["encoder"]["sha256"] == sha and row["config"]["encoders"] == str(enc)
        assert row["config"]["probe"]["kind"] == ("torch_head" if "torch" in run else "logreg")
        assert row["device"] == ("cpu" if "logreg" in run else devices.name(devices.resolve(None)))
        assert row["config"]["readout"]["blocks"] == (2 if "last_blocks" in run else 1)
    # the row is the probe called by hand on the same embeddings
    pred = probes.probe_cv(meta, emb["mean"], probes.logreg_probe(1.0), speaker_norm=True)
    assert json.loads((folder / "moco_probe_logreg_mean_spknorm.json").read_text())["uar"] == \
        metrics.uar(pred.y_true, pred.y_pred)


def test_finetune_vs_scratch_writes_both_rows_naming_their_start(meta, tmp_path, monkeypatch):
    import dataclasses

    from emolib.ssl import pretrain_config
    from emolib.studies import probing

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    enc = tmp_path / "encoders"
    export_folds(meta, enc)
    cfg = pretrain_config.PretrainConfig(depth=TINY.depth, frames=TINY.frames, patch_size=TINY.patch_size, seed=5)
    pred = pd.DataFrame({"file": meta.file, "speaker": meta.speaker, "fold": 0,
                         "y_true": meta.emotion.astype(str), "y_pred": "anger"})
    starts = []

    def fake_cv(meta, ft, out, backbone_cfg=None, device=None, progress=True, protocol="si5"):
        starts.append((out, backbone_cfg))
        return pred, pd.DataFrame({"fold": [0], "epoch": [1], "test_uar": [0.2]}), 1.0

    monkeypatch.setattr(probing, "finetune_cv", fake_cv)
    ft = finetune.FinetuneConfig(epochs=1, seed=3)
    table, preds, hist = probing.finetune_vs_scratch(meta, enc, cfg, ft, profile="smoke", corpus="synthetic")
    assert list(table.run) == ["moco_finetune", "vit_scratch"]
    assert starts == [(enc, cfg.backbone()), (None, cfg.backbone())]  # the same shape, from MoCo weights / random
    folder = env.run_dir(env.RESULTS, "synthetic", "smoke")
    moco, scratch = (json.loads((folder / f"{r}.json").read_text()) for r in ("moco_finetune", "vit_scratch"))
    assert moco["config"]["encoder"]["sha256"] == encoders.encoder_summary(enc)["sha256"] and moco["config"]["encoders"] == str(enc)
    assert scratch["config"]["encoder"] == {"random_init": dataclasses.asdict(cfg.backbone()), "seed": 5} and "encoders" not in scratch["config"]
    assert moco["config"]["finetune"] == scratch["config"]["finetune"] == ft.to_dict() and moco["config"]["seed"] == 3 and set(hist) == set(preds)


def test_epochs_curve_probes_random_weights_each_kept_epoch_and_the_last(meta, tmp_path):
    from emolib.ssl import pretrain_config
    from emolib.studies import probing

    enc = tmp_path / "encoders"
    export_folds(meta, enc)
    export_folds(meta, enc, seed=10, epoch=1)
    cfg = pretrain_config.PretrainConfig(depth=TINY.depth, frames=TINY.frames, patch_size=TINY.patch_size, epochs=3,
                                  keep_epochs=(1,))
    random = encoders.random_embeddings(meta, TINY, seed=0)
    curve = probing.epochs_curve(meta, enc, cfg, probes.logreg_probe(1.0), random)
    assert sorted(set(curve.epoch)) == [0, 1, 3] and len(curve) == 15
    by_hand = probes.probe_cv(meta, encoders.fold_embeddings(meta, enc, epoch=1, progress=False), probes.logreg_probe(1.0))
    fold0 = by_hand[by_hand.fold == 0]
    assert curve[(curve.epoch == 1) & (curve.fold == 0)].uar.item() == metrics.uar(fold0.y_true, fold0.y_pred)


def test_long_pretraining_rows_probe_the_encoders_when_present_else_read_the_committed_rows(meta, tmp_path, monkeypatch):
    from emolib.studies import probing

    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    runs = []
    monkeypatch.setattr(probing, "probe_checkpoints",
                        lambda meta, out, run, blocks=1, profile=None, progress=True: runs.append((run, blocks)) or [{"run": run}])
    rows, have = probing.long_pretraining_rows(meta, tmp_path / "none", "long", profile="smoke")
    assert (rows, have) == ([], False)
    with pytest.raises(EmolibError, match="no row long, long_spknorm"):
        probing.long_pretraining_rows(meta, tmp_path / "none", "long", profile="full")
    export_folds(meta, tmp_path / "enc")
    rows, have = probing.long_pretraining_rows(meta, tmp_path / "enc", "long", profile="smoke")
    assert have and runs == [("long", 1), ("long_cls_last_blocks", 2)]  # TINY has 2 blocks


def test_probe_of_several_folders_puts_their_embeddings_side_by_side(meta, tmp_path, monkeypatch):
    monkeypatch.setattr(env, "RESULTS", tmp_path / "results")
    a, b = tmp_path / "seed0", tmp_path / "seed1"
    export_folds(meta, a, seed=0)
    export_folds(meta, b, seed=10)
    real_cv, seen = probes.probe_cv, {}

    def spy(meta_, emb, fit, speaker_norm=False, folds=None, protocol="si5", calibrate=False):
        seen[speaker_norm] = emb
        return real_cv(meta_, emb, fit, speaker_norm=speaker_norm, folds=folds, protocol=protocol, calibrate=calibrate)

    monkeypatch.setattr(probes, "probe_cv", spy)
    rows = probes.probe_checkpoints(meta, [a, b], "pair", fit_predict=probes.logreg_probe(1.0), profile="smoke",
                                    corpus="synthetic", progress=False)
    one, two = (encoders.fold_embeddings(meta, f, progress=False) for f in (a, b))
    for k in range(5):
        np.testing.assert_array_equal(seen[False][k], np.concatenate([one[k], two[k]], axis=1))
    row = rows[0]
    assert row["config"]["encoders"] == [str(a), str(b)] and row["method"].endswith("side by side, cls, linear probe")
    assert [m["sha256"] for m in row["config"]["encoder"]["members"]] == [encoders.encoder_summary(f)["sha256"] for f in (a, b)]
    assert "sha256" not in row["config"]["encoder"] and row["config"]["encoder"]["arch"] == TINY.arch
    with pytest.raises(EmolibError, match="at least one"):
        probes.probe_checkpoints(meta, [], "none", progress=False)


def test_side_by_side_curve_probes_the_first_k_folders_in_the_given_order_and_as_many_random_vits(meta, tmp_path):
    from emolib.studies import probing

    a, b = tmp_path / "seed0", tmp_path / "seed1"
    export_folds(meta, a, seed=0)
    export_folds(meta, b, seed=10)
    fit = probes.logreg_probe(1.0)
    curve = probing.side_by_side_curve(meta, [b, a], fit, progress=False)
    assert list(zip(curve.encoders, curve.k)) == [("trained", 1), ("trained", 2), ("random", 1), ("random", 2)]
    assert curve.added.tolist()[:2] == [str(b), str(a)] and not curve.speaker_input.any()
    one, two = (encoders.fold_embeddings(meta, f, progress=False) for f in (b, a))
    both = {k: np.concatenate([one[k], two[k]], axis=1) for k in range(5)}
    for k, emb in ((1, one), (2, both)):
        for norm, col in ((False, "uar"), (True, "uar_spknorm")):
            pred = probes.probe_cv(meta, emb, fit, speaker_norm=norm)
            line = curve[(curve.encoders == "trained") & (curve.k == k)]
            assert line[col].item() == metrics.uar(pred.y_true, pred.y_pred)
    shape = vit.BackboneConfig(**encoders.encoder_config(b, 0)[1]["backbone"])
    rand = {k: np.concatenate([encoders.random_embeddings(meta, shape, seed=s)[k] for s in (0, 1)], axis=1) for k in range(5)}
    pred = probes.probe_cv(meta, rand, fit)
    assert curve[(curve.encoders == "random") & (curve.k == 2)].uar.item() == metrics.uar(pred.y_true, pred.y_pred)
    # the probe command hands over its rows' UARs: the last trained point is taken, not probed again
    last = tuple(curve[(curve.encoders == "trained") & (curve.k == 2)][["uar", "uar_spknorm"]].iloc[0])
    again = probing.side_by_side_curve(meta, [b, a], fit, progress=False, all_folders=last)
    pd.testing.assert_frame_equal(again, curve)
    marked = probing.side_by_side_curve(meta, [b, a], fit, progress=False, all_folders=(-1.0, -2.0))
    assert marked[(marked.encoders == "trained") & (marked.k == 2)][["uar", "uar_spknorm"]].iloc[0].tolist() == [-1.0, -2.0]
    other = tmp_path / "emobox"  # encoders of another protocol's folds: refused before any probe
    export_folds(meta, other)
    for k in range(5):
        path = encoders.backbone_path(other, k).with_suffix(".json")
        path.write_text(json.dumps({**json.loads(path.read_text()), "pretrain": {"protocol": "emobox"}}))
    with pytest.raises(EmolibError, match="not si5's"):
        probing.side_by_side_curve(meta, [a, other], fit, progress=False)


def test_probe_curve_needs_two_folders_and_the_default_read_out(tmp_path, capsys):
    for extra in ([], ["--blocks", "2"]):
        folders = [str(tmp_path / "a")] if not extra else [str(tmp_path / "a"), str(tmp_path / "b")]
        assert cli.main(["probe", "--out", *folders, "--run", "x", "--curve", *extra]) != 0
        assert "--curve: give at least two --out folders" in capsys.readouterr().err


def test_describe_encoders_names_seeds_of_one_pretext_or_the_variants_of_one_budget():
    from emolib.ssl import shortcut

    base = {"arch": "vit_tiny", "depth": 6, "epochs": 40, "batch_size": 64, "aug": "report", "device": "cpu"}
    def enc(seed=0, **changes):
        return {**base, "pretext": {**shortcut.DEFAULTS, **changes}, "pretrain": {"seed": seed}}

    assert encoders.describe_encoders([enc()]) == encoders.describe_encoder(enc())
    seeds = encoders.describe_encoders([enc(0, warp=0.15), enc(1, warp=0.15)])
    assert seeds == f"{encoders.describe_encoder(enc(warp=0.15))} seed 0 + {encoders.describe_encoder(enc(warp=0.15))} seed 1, side by side"
    kinds = encoders.describe_encoders([enc(), enc(warp=0.15), enc(batch_by="speaker", warp=0.3)])
    assert kinds == ("MoCo v3 vit_tiny/6, 40 epochs, batch 64 (cpu), 3 pretexts side by side: report, warp, "
                     "speaker batches, mel warp ±0.3")
    longer = {**enc(warp=0.15), "epochs": 300}
    assert encoders.describe_encoders([enc(), longer]).endswith(" seed 0, side by side")


def test_statistics_readout_is_the_mean_spread_and_maximum_over_half_overlapping_windows(meta, tmp_path):
    export_folds(meta, tmp_path)
    plain = encoders.fold_embeddings(meta, tmp_path, folds=[1], progress=False)[1]
    stats = encoders.fold_embeddings(meta, tmp_path, folds=[1], progress=False, stats=True)[1]
    assert stats.shape == (len(meta), 3 * plain.shape[1])
    # by hand for one utterance: the class token of each window, windows 48 frames apart
    model, info = encoders.load_encoder(tmp_path, 1)
    mel = log_mels(meta.path.iloc[:1], progress=False)[0]
    mean, std = np.array(info["normalization"]["mean"]), np.array(info["normalization"]["std"])
    win = vit.windows(mel, 96, 48)
    assert len(win) >= len(vit.windows(mel, 96))  # overlapping: at least as many windows
    with torch.no_grad():
        x = torch.from_numpy(((win - mean[:, None]) / std[:, None]).astype(np.float32))[:, None]
        tokens = model.forward_features(x)[:, 0].numpy()
    d = plain.shape[1]
    np.testing.assert_allclose(stats[0, :d], tokens.mean(0), atol=1e-4)
    np.testing.assert_allclose(stats[0, d:2 * d], tokens.std(0), atol=1e-4)
    np.testing.assert_allclose(stats[0, 2 * d:], tokens.max(0), atol=1e-4)
    rows = probes.probe_checkpoints(meta, tmp_path, "moco_probe_logreg_stats", stats=True, progress=False,
                                    profile="smoke", corpus="synthetic")
    assert [r["run"] for r in rows] == ["moco_probe_logreg_stats", "moco_probe_logreg_stats_spknorm"]
    assert rows[0]["config"]["readout"] == {"pool": "cls", "blocks": 1, "stats": True}


def test_what_an_embedding_knows_is_read_back_on_held_out_speakers_only(meta, monkeypatch):
    from emolib.evaluation import knowledge

    rng = np.random.default_rng(0)
    targets = pd.DataFrame({"known": rng.normal(size=len(meta)), "unknown": rng.normal(size=len(meta))})
    X = np.c_[targets.known + 0.1 * rng.normal(size=len(meta)), rng.normal(size=(len(meta), 5))]
    out = knowledge.knowledge(meta, X, targets)
    assert out["known"] > 0.9 and out["unknown"] < 0.1 and 0 <= out["speaker 5-NN"] <= 1
    # every regression is fitted on training speakers only and predicts the others
    speakers = meta.speaker.astype(str).to_numpy()
    row_of = {x: i for i, x in enumerate(X[:, 1])}
    calls, real = [], knowledge._fit_predict

    def spy(X_train, y_train, groups, X_test):
        calls.append((set(groups), {speakers[row_of[x]] for x in X_test[:, 1]}))
        return real(X_train, y_train, groups, X_test)

    monkeypatch.setattr(knowledge, "_fit_predict", spy)
    knowledge.knowledge(meta, X, targets)
    assert len(calls) == 5 * 2 and all(train and test and not (train & test) for train, test in calls)


def test_the_knowledge_table_reads_as_markdown_and_a_figure(tmp_path):
    from emolib import plots
    from emolib.evaluation.study_tables import knowledge_markdown
    from emolib.studies import learners

    table = pd.DataFrame({"F0 range": [0.1, 1.0], "HNR": [-0.3, 1.0], "speaker 5-NN": [0.3, 0.6],
                          "UAR raw": [0.66, np.nan], "UAR spk-norm": [0.68, 0.8],
                          "raw is speaker-normalised": [True, False]}, index=pd.Index(["enc", "ref"], name="space"))
    table.to_csv(tmp_path / learners.KNOWLEDGE_FILE)
    back = learners.read(tmp_path)
    text = knowledge_markdown(back)
    assert "| enc | 0.10 | -0.30 | 30.0 | 66.0 ‡ | 68.0 |" in text and "| ref | 1.00 | 1.00 | 60.0 |  | 80.0 |" in text
    fig = plots.knowledge_map(back)
    assert len(fig.axes) >= 2


def test_seed_table_averages_a_stems_seeds_and_says_whether_the_target_is_reached(tmp_path):
    from emolib import plots
    from emolib.evaluation import study_tables
    from emolib.studies import learners

    for name, uar in (("x_probe", 0.70), ("x_probe_seed1", 0.68), ("x_probe_seed2", 0.69), ("x_probe_spknorm", 0.81),
                      ("x_probe_emobox", 0.99), ("y_probe", 0.9)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"run": name, "uar": uar}))
    table = learners.seed_table(["x_probe"], tmp_path)
    raw, norm = table.loc[("x_probe", False)], table.loc[("x_probe", True)]
    assert raw.seeds == "0, 1, 2" and abs(raw.uar_mean - 0.69) < 1e-9 and abs(raw.uar_sd - 0.01) < 1e-9 and raw.reached
    assert norm.seeds == "0" and not norm.reached  # one seed is not enough
    # "raw" rows of an encoder on per-speaker inputs are speaker-normalised: they never reach the raw target
    for name in ("z_probe", "z_probe_seed1", "z_probe_seed2"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"run": name, "uar": 0.75, "speaker_norm": True}))
    (tmp_path / "baseline_q.json").write_text(json.dumps({"run": "baseline_q", "uar": 0.8}))
    table = learners.seed_table(["x_probe", "z_probe", "baseline_q"], tmp_path)
    assert table.loc[("z_probe", False), "rows_speaker_normalised"] and not table.loc[("z_probe", False), "reached"]
    text = study_tables.learners_markdown(table)
    assert "| x_probe | 0, 1, 2 | 69.0 ± 1.0 | 81.0 |  | raw |" in text and "| z_probe | 0, 1, 2 | 75.0 ± 0.0 ‡ |  |  | no |" in text
    assert "| baseline_q | 0 | 80.0 |  |  | reference |" in text
    assert len(plots.learner_study(table, learners.TARGETS).axes) == 1


def test_the_learners_study_table_joins_the_diagnostics_r2_of_each_learners_space(tmp_path):
    from emolib.studies import ablation, learners

    for name, uar in (("ssl_cnn", 0.6), ("ssl_cnn_spknorm", 0.7), ("ssl_cnn_stats_seed1", 0.65)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"run": name, "uar": uar}))
    space = env.repo_relative(ablation.default_out() / "cnn")
    pd.DataFrame({"F0 range": [0.2, 0.3], "speaking rate": [0.4, 0.5]},
                 index=pd.Index([space, f"{space}, statistics read-out"], name="space")).to_csv(tmp_path / learners.KNOWLEDGE_FILE)
    table = learners.study_table(tmp_path)
    assert list(table.index.get_level_values("stem").unique()) == ["ssl_cnn", "ssl_cnn_stats"]
    assert table.loc[("ssl_cnn", False), "R² F0 range"] == 0.2 and table.loc[("ssl_cnn_stats", True), "R² speaking rate"] == 0.5
    assert table.loc[("ssl_cnn_stats", False), "seeds"] == "1" and np.isnan(table.loc[("ssl_cnn_stats", True), "uar_mean"])

"""MoCo v3: the backbone and its interop with timm and official checkpoints, the loss and
schedules, and the pretraining run (exact resume after SIGKILL, DDP = one process, divergence)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from emolib.core.errors import EmolibError
from emolib.data.corpus import load_corpus
from emolib.models import vit
from emolib.ssl import checkpoints, moco, pretrain, pretrain_config

TINY = vit.BackboneConfig("vit_tiny", depth=2, n_mels=64, frames=96, patch_size=16)


def test_backbone_takes_one_channel_log_mels_with_fixed_positions():
    model = vit.create_backbone(TINY)
    out = model(torch.randn(3, 1, 64, 96))
    assert out.shape == (3, 192)
    assert model.patch_embed.num_patches == 4 * 6
    assert not model.pos_embed.requires_grad
    torch.testing.assert_close(model.pos_embed.data, vit.sincos_2d((4, 6), 192))
    assert model.patch_embed.proj.weight.requires_grad
    frozen = vit.create_backbone(vit.BackboneConfig("vit_tiny", depth=1, stop_grad_conv1=True))
    assert not frozen.patch_embed.proj.weight.requires_grad
    small = vit.create_backbone(vit.BackboneConfig("vit_small", depth=1))
    assert small.embed_dim == 384 and small.blocks[0].attn.num_heads == 12
    with pytest.raises(EmolibError, match="multiple of the patch size"):
        vit.BackboneConfig(frames=100)


def test_sincos_positions_are_distinct_and_bounded():
    pe = vit.sincos_2d((4, 6), 64)[0]
    assert pe.shape == (25, 64) and torch.equal(pe[0], torch.zeros(64))
    assert pe.abs().max() <= 1
    d = torch.cdist(pe[1:], pe[1:])
    assert (d + torch.eye(24) * 10).min() > 0.1  # every patch position has its own code


def test_exported_backbone_loads_into_plain_timm_strictly(tmp_path):
    import timm
    from safetensors.torch import load_file

    model = vit.create_backbone(TINY)
    meta_path = vit.export_backbone(model, TINY, tmp_path / "backbone",
                                    vit.Normalization([0.0] * 64, [1.0] * 64), {"fold": 2})
    meta = json.loads(meta_path.read_text())
    kwargs = dict(meta["timm"])
    plain = timm.create_model(kwargs.pop("model_name"), pretrained=False, **kwargs)
    plain.load_state_dict(load_file(tmp_path / "backbone.safetensors"), strict=True)
    x = torch.randn(2, 1, 64, 96)
    torch.testing.assert_close(plain.eval()(x), model.eval()(x))
    loaded, meta2 = vit.load_backbone(tmp_path / "backbone")
    torch.testing.assert_close(loaded(x), model(x))
    assert meta2["fold"] == 2 and len(meta2["normalization"]["mean"]) == 64
    with pytest.raises(EmolibError, match="no such file"):
        vit.load_backbone(tmp_path / "missing")


def official_state(depth=2, seed=0) -> dict:
    """A state dict in the layout of the official MoCo v3 ViT-Small checkpoints: 3-channel
    16x16 patches, 14x14 position grid, projector in ``head``, both encoders and the predictor."""
    import timm

    torch.manual_seed(seed)
    enc = timm.create_model("vit_small_patch16_224", pretrained=False, num_heads=12, depth=depth,
                            num_classes=4096)
    state = {}
    for k, v in enc.state_dict().items():
        if k.startswith("head."):
            continue
        state[f"module.base_encoder.{k}"] = v.clone()
        state[f"module.momentum_encoder.{k}"] = v.clone() + 1
    for prefix in ("module.base_encoder.head", "module.momentum_encoder.head"):
        state[f"{prefix}.0.weight"] = torch.randn(4096, 384)
        state[f"{prefix}.1.weight"] = torch.ones(4096)
        state[f"{prefix}.6.weight"] = torch.randn(256, 4096)
    state["module.predictor.0.weight"] = torch.randn(4096, 256)
    return {"epoch": 300, "arch": "vit_small", "state_dict": state}


def test_official_moco_checkpoint_is_mapped_folded_and_reported(capsys):
    cfg = vit.BackboneConfig("vit_small", depth=2, frames=96)
    model = vit.create_backbone(cfg)
    state = official_state()
    report = vit.load_official_moco(model, state, cfg)
    src = state["state_dict"]
    mine = model.state_dict()
    torch.testing.assert_close(mine["blocks.1.attn.qkv.weight"], src["module.base_encoder.blocks.1.attn.qkv.weight"])
    torch.testing.assert_close(mine["patch_embed.proj.weight"],
                               src["module.base_encoder.patch_embed.proj.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(mine["pos_embed"], vit.sincos_2d(cfg.grid, 384))  # fixed: kept
    assert any("pos_embed" in s for s in report["skipped"])
    assert any(s.startswith("head.0.weight") for s in report["skipped"])
    assert "blocks.0.mlp.fc1.weight" in report["loaded"] and report["kept"] == ["pos_embed"]
    printed = capsys.readouterr().out
    assert "3 input channels summed into 1" in printed and "head.0.weight" in printed
    out = model(torch.randn(2, 1, 64, 96))
    assert torch.isfinite(out).all()


def test_official_position_grid_is_resampled_to_the_spectrogram_grid():
    pos = torch.randn(1, 1 + 14 * 14, 8)
    out = vit._resample_grid(pos, (4, 6))
    assert out.shape == (1, 25, 8) and torch.equal(out[:, 0], pos[:, 0])
    same = vit._resample_grid(pos, (14, 14))
    torch.testing.assert_close(same, pos)


def test_unknown_checkpoint_layouts_are_refused(tmp_path):
    cfg = vit.BackboneConfig("vit_small", depth=2)
    with pytest.raises(EmolibError, match="not an official MoCo v3 ViT checkpoint"):
        vit.load_official_moco(vit.create_backbone(cfg), {"model": {"conv1.weight": torch.zeros(1)}}, cfg)
    path = tmp_path / "evil.pt"
    torch.save({"payload": Path("x")}, path)  # needs pickled code (pathlib) to load
    with pytest.raises(EmolibError, match="refused"):
        vit.read_checkpoint(path)


def test_contrastive_loss_is_scaled_infonce():
    model = moco.MoCo(TINY, dim=16, mlp_dim=32, temperature=0.2)
    q, k = torch.randn(5, 16), torch.randn(5, 16)
    qn, kn = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(k, dim=1)
    logits = qn @ kn.T / 0.2
    expected = -(logits.diagonal() - logits.logsumexp(1)).mean() * 0.4
    torch.testing.assert_close(model.contrastive_loss(q, k), expected)


def test_momentum_encoder_follows_the_base_encoder():
    model = moco.MoCo(TINY, dim=16, mlp_dim=32)
    base = next(model.base_encoder.parameters())
    mom = next(model.momentum_encoder.parameters())
    assert torch.equal(base, mom) and not mom.requires_grad
    with torch.no_grad():
        base.add_(1.0)
    before = mom.clone()
    model.update_momentum_encoder(0.99)
    torch.testing.assert_close(mom, 0.99 * before + 0.01 * base)
    x1, x2 = torch.randn(4, 1, 64, 96), torch.randn(4, 1, 64, 96)
    loss = model(x1, x2, 0.99)
    loss.backward()
    assert mom.grad is None and base.grad is not None


def test_schedules():
    assert moco.momentum(0.99, 0, 100) == pytest.approx(0.99)
    assert moco.momentum(0.99, 100, 100) == pytest.approx(1.0)
    assert moco.momentum(0.99, 50, 100) == pytest.approx(0.995)
    assert moco.momentum(0.99, 50, 100, cosine=False) == 0.99
    assert moco.learning_rate(1.5e-4, 512, 0, 100, 10) == 0
    assert moco.learning_rate(1.5e-4, 512, 5, 100, 10) == pytest.approx(1.5e-4)
    assert moco.learning_rate(1.5e-4, 512, 10, 100, 10) == pytest.approx(3e-4)
    assert moco.learning_rate(1.5e-4, 512, 100, 100, 10) == pytest.approx(0, abs=1e-12)


# --- runs on the synthetic corpus -----------------------------------------------------------

def run_cli(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "emolib", "pretrain", "--corpus", "synthetic",
                           "--profile", "smoke", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def final_weights(folder: Path) -> dict:
    return checkpoints.load_checkpoint(folder / "checkpoint.pt")["model"]


def history(folder: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "wall_s"}
            for line in (folder / "history.jsonl").read_text().splitlines()]


def test_resume_after_sigkill_ends_where_an_uninterrupted_run_ends(tmp_path):
    # the CNN encoder (the ViT resumes in test_masked_objective_pretrains_and_resumes_exactly)
    common = ["--fold", "1", "--epochs", "3", "--save-every", "1", "--knn-every", "2", "--arch", "resnet10t_half"]
    r = run_cli(*common, "--out", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr[-2000:]
    folder_b = tmp_path / "b" / "fold1"
    proc = subprocess.Popen([sys.executable, "-m", "emolib", "pretrain", "--corpus", "synthetic",
                             "--profile", "smoke", *common, "--out", str(tmp_path / "b")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (folder_b / "checkpoint.pt").is_file() and len(history(folder_b)) >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = checkpoints.load_checkpoint(folder_b / "checkpoint.pt")["epoch"]
    assert 1 <= killed_at < 3
    r = run_cli(*common, "--out", str(tmp_path / "b"), "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resumed from" in r.stdout
    a, b = final_weights(tmp_path / "a" / "fold1"), final_weights(folder_b)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert history(tmp_path / "a" / "fold1") == history(folder_b)
    # resuming with other settings is refused, naming the difference
    r = run_cli(*common[:6], "--knn-every", "3", *common[8:], "--out", str(tmp_path / "b"), "--resume")
    assert r.returncode == 2 and "knn_every" in r.stderr and "Traceback" not in r.stderr
    # so is a fresh run of other settings into that folder, which would overwrite it; the fold stays as it was
    before = (folder_b / "checkpoint.pt").read_bytes()
    r = run_cli(*common[:2], "--epochs", "6", *common[4:], "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and "epochs: checkpoint 3, now 6" in r.stderr and "--out" in r.stderr
    assert "Traceback" not in r.stderr and (folder_b / "checkpoint.pt").read_bytes() == before
    # the CNN's embeddings: the class-token-like pooled vector, and mean / std / max over windows
    from emolib.ssl import encoders

    meta = load_corpus("synthetic")
    X = encoders.fold_embeddings(meta, tmp_path / "a", folds=[1], progress=False)[1]
    S = encoders.fold_embeddings(meta, tmp_path / "a", folds=[1], progress=False, stats=True)[1]
    assert X.shape == (len(meta), 512) and S.shape == (len(meta), 3 * 512) and abs(S[:, :512] - X).max() > 0
    with pytest.raises(EmolibError, match="one read-out"):
        encoders.fold_embeddings(meta, tmp_path / "a", folds=[1], pool="mean", progress=False)
    r = run_cli(*common, "--out", str(tmp_path / "c"), "--init-from", str(tmp_path / "none.pth"))
    assert r.returncode == 2 and "CNN" in r.stderr and "Traceback" not in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process_on_the_same_global_batch(tmp_path):
    common = ["--fold", "0", "--epochs", "1", "--knn-every", "5", "--device", "cpu"]
    r = run_cli(*common, "--out", str(tmp_path / "one"), env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
                          f"--master-port={_free_port()}", "-m", "emolib", "pretrain", "--corpus", "synthetic",
                          "--profile", "smoke", *common, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = history(tmp_path / "one" / "fold0"), history(tmp_path / "two" / "fold0")
    assert one[0]["loss"] == pytest.approx(two[0]["loss"], rel=1e-4)
    a, b = final_weights(tmp_path / "one" / "fold0"), final_weights(tmp_path / "two" / "fold0")
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(a[k], b[k], atol=2e-4, rtol=1e-3, msg=k)


def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    meta = load_corpus("synthetic")
    cfg = pretrain_config.profile_config("smoke", epochs=3, save_every=1, knn_every=10)

    def poison(step, model):
        if step == 7:  # in epoch 2 (5 steps an epoch)
            with torch.no_grad():
                model.base_encoder.backbone.blocks[0].attn.qkv.weight.fill_(float("nan"))

    with pytest.raises(pretrain.TrainingDiverged, match=r"not finite at step 7 \(epoch 2, iteration 3\)") as e:
        pretrain.pretrain_fold(meta, 2, cfg, tmp_path, progress=False, on_step=poison)
    assert "epoch 1) is kept" in str(e.value)
    state = checkpoints.load_checkpoint(tmp_path / "fold2" / "checkpoint.pt")
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values()
                                       if v.is_floating_point())


def test_bad_fold_is_a_clear_error():
    r = run_cli("--fold", "7", "--out", "/nonexistent")
    assert r.returncode == 2 and "--fold 7" in r.stderr and "Traceback" not in r.stderr


def test_pretrain_starts_from_an_official_checkpoint(tmp_path):
    path = tmp_path / "moco_v3_vit_small.pth.tar"
    torch.save(official_state(depth=2), path)
    r = run_cli("--fold", "3", "--epochs", "1", "--arch", "vit_small", "--depth", "2", "--knn-every", "5",
                "--init-from", str(path), "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "init-from: 28 tensors loaded as they are, 1 adapted" in r.stdout
    assert "3 input channels summed into 1" in r.stdout
    backbone, meta = vit.load_backbone(tmp_path / "run" / "fold3" / "backbone")
    assert meta["timm"]["num_heads"] == 12 and backbone.embed_dim == 384
    assert meta["device"] == "cpu" and meta["epoch"] == 1  # where it was pretrained, for results rows
    r = run_cli("--fold", "3", "--epochs", "1", "--init-from", str(tmp_path / "run" / "fold3" / "history.jsonl"),
                "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "history.jsonl" in r.stderr and "Traceback" not in r.stderr


def test_the_official_grid_resampling_is_bicubic_interpolation_of_the_patch_positions():
    """vit._resample_grid is timm's resample_abs_pos_embed; it must equal the plain bicubic
    interpolation it replaced, keep the class token's entry, and refuse a grid that is not square."""
    import torch.nn.functional as F

    from emolib.core.errors import EmolibError
    from emolib.models import vit

    pos = torch.randn(1, 1 + 14 * 14, 8, generator=torch.Generator().manual_seed(0))
    img = pos[:, 1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    plain = F.interpolate(img, size=(4, 6), mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(1, 24, 8)
    out = vit._resample_grid(pos, (4, 6))
    assert torch.equal(out[:, :1], pos[:, :1]) and torch.equal(out[:, 1:], plain)
    with pytest.raises(EmolibError, match="not a square grid"):
        vit._resample_grid(pos[:, :-1], (4, 6))


def uninterrupted_and_resumed(common: list[str], tmp_path: Path, fold: int) -> dict:
    """Pretrain ``common`` into ``a`` straight through, and into ``b`` killed (SIGKILL) after its first epoch's
    checkpoint then resumed; asserts both end with the same weights and history, and returns the weights."""
    r = run_cli(*common, "--out", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr[-2000:]
    folder_b = tmp_path / "b" / f"fold{fold}"
    proc = subprocess.Popen([sys.executable, "-m", "emolib", "pretrain", "--corpus", "synthetic",
                             "--profile", "smoke", *common, "--out", str(tmp_path / "b")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (folder_b / "checkpoint.pt").is_file() and len(history(folder_b)) >= 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    r = run_cli(*common, "--out", str(tmp_path / "b"), "--resume")
    assert r.returncode == 0 and "resumed from" in r.stdout, r.stderr[-2000:]
    a, b = final_weights(tmp_path / "a" / f"fold{fold}"), final_weights(folder_b)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert history(tmp_path / "a" / f"fold{fold}") == history(folder_b)
    return a


def test_cnn_backbone_exports_to_plain_timm_and_loads_without_emolib(tmp_path):
    cfg = vit.BackboneConfig("resnet10t_half", n_mels=64, frames=96)
    model = vit.create_backbone(cfg)
    x = torch.randn(3, 1, 64, 96)
    assert model(x).shape == (3, cfg.embed_dim)  # mean and max of the last map side by side
    vit.export_backbone(model.eval(), cfg, tmp_path / "backbone", vit.Normalization([0.0] * 64, [1.0] * 64))
    torch.save(x, tmp_path / "x.pt")
    torch.save(model(x).detach(), tmp_path / "y.pt")
    code = ("import json, sys, timm, torch; from safetensors.torch import load_file; "
            f"d = {str(tmp_path)!r}; kw = json.load(open(d + '/backbone.json'))['timm']; "
            "m = timm.create_model(kw.pop('model_name'), pretrained=False, **kw).eval(); "
            "m.load_state_dict(load_file(d + '/backbone.safetensors'), strict=True); "
            "assert 'emolib' not in sys.modules; "
            "torch.testing.assert_close(m(torch.load(d + '/x.pt')), torch.load(d + '/y.pt'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.parametrize("arch", ["vit_tiny", "resnet10t_half"])
def test_frame_head_reads_each_time_step_and_scores_the_descriptors_it_covers(arch):
    cfg = TINY if arch == "vit_tiny" else vit.BackboneConfig("resnet10t_half")
    torch.manual_seed(0)
    model = moco.MoCo(cfg, 32, 64, objective="none", n_frame_targets=3).eval()
    x = torch.randn(2, 1, 64, 96)
    steps = model.frame_outputs(x)
    assert steps.shape[:2] == (2, 6 if arch == "vit_tiny" else 3)  # a ViT column of patches / a CNN map step
    # a change in the last frames moves the last step's output and not the first's (nothing crosses time there)
    late = x.clone()
    late[..., -8:] += 3.0
    with torch.no_grad():
        moved = (model.frame_outputs(late) - steps).abs().amax(dim=2)
    assert (moved[:, -1] > 0).all() and (arch == "vit_tiny" or (moved[:, 0] == 0).all())
    targets = torch.zeros(2, 3, 96)
    targets[:, :, :16] = 1.0  # descriptors in the first frames only: the head's first step is scored against them
    with torch.no_grad():
        model.frame_regressor.weight.zero_()
        model.frame_regressor.bias.zero_()
        loss = model.frame_loss(x, targets)
    pooled = torch.nn.functional.adaptive_avg_pool1d(targets, steps.shape[1])
    assert loss.item() == pytest.approx(float((pooled ** 2).mean()))


def test_masking_hides_exactly_the_masked_patches_and_scores_only_them():
    torch.manual_seed(0)
    model = moco.MoCo(TINY, 32, 64, objective="both", mask_ratio=0.5).eval()
    mask = moco.random_mask(2, 24, 0.5, "cpu")
    assert mask.sum(1).tolist() == [12, 12] and not torch.equal(mask[0], mask[1])
    x = torch.randn(2, 1, 64, 96)
    patches = moco.patchify(x, 16)
    assert patches.shape == (2, 24, 256) and torch.equal(patches[0, 7], x[0, 0, 16:32, 16 * 1:16 * 2].reshape(-1))
    noisy = patches.clone()
    noisy[mask] += 5 * torch.randn_like(noisy[mask])  # other content in the masked patches only
    x2 = noisy.reshape(2, 4, 6, 16, 16).permute(0, 1, 3, 2, 4).reshape(2, 1, 64, 96)
    assert torch.equal(moco.patchify(x2, 16)[~mask], patches[~mask])
    with torch.no_grad():  # the backbone never sees a masked patch's content ...
        torch.testing.assert_close(model.masked_predictions(x2, mask), model.masked_predictions(x, mask))
        # ... which is what it is scored on; the unmasked patches' content is not a target
        assert model.masked_loss(x2, mask) != model.masked_loss(x, mask)
        assert model.masked_loss(x, ~mask) != model.masked_loss(x, mask)  # the same input, the other patches scored
    with pytest.raises(ValueError, match="ViT"):
        moco.MoCo(vit.BackboneConfig("resnet10t_half"), 32, 64, objective="masked")


def test_masked_objective_and_signal_targets_pretrain_and_resume_exactly(tmp_path):
    common = ["--fold", "3", "--epochs", "2", "--save-every", "1", "--knn-every", "2", "--targets", "both",
              "--objective", "both"]
    a = uninterrupted_and_resumed(common, tmp_path, 3)  # the clean crops of the frame targets draw from the saved RNG
    assert "mask_token" in a and "decoder.weight" in a and "regressor.weight" in a and "frame_regressor.weight" in a
    r = run_cli(*common[:-1], "masked", "--arch", "resnet10t_half", "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and "needs a ViT" in r.stderr and "Traceback" not in r.stderr

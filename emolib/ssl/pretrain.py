"""MoCo v3 pretraining runs: one fold's training utterances (an SI-5 fold's 8 training speakers
unless ``--protocol`` says otherwise), on the CPU, one GPU or under ``torchrun``
(``python -m emolib pretrain …``).

Per fold, under ``<out>/fold<k>/`` (the layout is :mod:`emolib.ssl.encoders`'s; what a fold reads is
:mod:`emolib.ssl.inputs`'s, how a checkpoint is written and checked :mod:`emolib.ssl.checkpoints`'s):

- ``history.jsonl``   one line per epoch: loss, lr, momentum, and (every ``knn_every`` epochs
  and at the end) a k-NN emotion accuracy / UAR of the current backbone on the fold's held-out
  speakers — a monitor only, never used for any training decision;
- ``checkpoint.pt``   everything needed to resume exactly (model, momentum encoder, optimizer,
  epoch, every random state), written atomically every ``save_every`` epochs and at the end;
- ``backbone.safetensors`` / ``.json``  the final backbone for ``timm`` (:mod:`emolib.models.vit`), and
  ``backbone_e<epoch>.*`` at the epochs listed in ``keep_epochs`` (for the probe-vs-epochs study).

A loss that is not finite, or that jumps above ``spike_factor`` times its running average, stops
the run with the step named; the last checkpoint on disk is the last good one.

The pretext options that deny the speaker shortcut (``batch_by``, ``input_norm``, ``warp``,
``formant``, ``pitch``, ``warp_views``, ``adversary``) are explained in :mod:`emolib.ssl.shortcut`; their
defaults are the report's recipe (mixed batches, corpus-wide statistics, no warp, no adversary).
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..core import env, steps
from ..core.devices import name as device_name
from ..core.devices import resolve as _device
from ..core.errors import EmolibError
from ..models.vit import export_backbone, load_official_moco, read_checkpoint
from . import checkpoints, shortcut
from .adversary import SpeakerAdversary, adversary_scale
from .batches import batch_groups, epoch_batches
from .encoders import ALL_SPEAKERS, backbone_path, checkpoint_path, fold_dir, history_path
from .inputs import FoldData, fold_data, knn_monitor
from .moco import LARS, MoCo, distributed, learning_rate, momentum
from .pretrain_config import N_FOLDS, PretrainConfig, default_out


class TrainingDiverged(EmolibError):
    pass


class _WithAdversary(torch.nn.Module):
    """MoCo plus the gradient-reversed speaker head, as one module (for DDP): returns the total
    loss, the contrastive loss, the head's loss and its accuracy."""

    def __init__(self, moco: MoCo, adversary: SpeakerAdversary):
        super().__init__()
        self.moco, self.adversary = moco, adversary

    def forward(self, x1, x2, m, speakers, scale, targets=None, frames=None):
        ctr, features = self.moco(x1, x2, m, features=True, targets=targets, frames=frames)
        adv, acc = self.adversary(features, torch.cat([speakers, speakers]), scale)
        return ctr + adv, ctr.detach(), adv.detach(), acc.detach()


# --- the run -------------------------------------------------------------------------------

@dataclass
class _Run:
    """What one fold's pretraining holds: the model (and speaker head), its optimiser, the view
    generator, the batch plan, and what the loop carries from step to step."""

    cfg: PretrainConfig
    fold: int
    data: FoldData
    dev: torch.device
    model: MoCo
    adversary: torch.nn.Module | None
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    speaker_ids: torch.Tensor
    groups: np.ndarray | None = None  # speaker/gender of each training utterance, or None (mixed batches)
    iters: int = 1                    # steps an epoch
    rank: int = 0
    world: int = 1
    ema: float | None = None          # running loss, for the spike check
    saved_epoch: int | None = None    # the epoch of the checkpoint on disk


def _build(cfg: PretrainConfig, fold: int, data: FoldData, dev: torch.device, init_from: str | None,
           rank: int, world: int) -> _Run:
    """Seeded model (from an official checkpoint with ``init_from``), speaker head, optimiser, view
    generator and batch plan, on ``dev``."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    model = MoCo(cfg.backbone(len(data.normalization.mean)), cfg.moco_dim, cfg.moco_mlp_dim, cfg.moco_t,
                 cfg.objective, cfg.mask_ratio, cfg.masked_weight,
                 0 if data.targets is None else data.targets.shape[1], cfg.targets_weight,
                 0 if data.frame_targets is None else data.frame_targets.data.shape[0])
    if init_from:
        if model.backbone_cfg.cnn:
            raise EmolibError(f"--init-from {init_from}: official MoCo v3 checkpoints are ViTs; --arch {cfg.arch} is a CNN")
        load_official_moco(model.backbone, read_checkpoint(init_from), model.backbone_cfg)
        model.momentum_encoder.load_state_dict(model.base_encoder.state_dict())
    names = sorted(set(data.train_speakers.tolist()))
    speaker_ids = torch.tensor([names.index(s) for s in data.train_speakers])
    adversary = (SpeakerAdversary(model.backbone_cfg.embed_dim, len(names)).to(dev)
                 if cfg.adversary else None)
    model.to(dev)
    data.views.to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    if adversary is not None:
        params += list(adversary.parameters())
    if cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(params, lr=0.0, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "lars":
        optimizer = LARS(params, lr=0.0, weight_decay=cfg.weight_decay)
    else:
        raise EmolibError(f"--optimizer {cfg.optimizer!r}: choose adamw or lars")
    run = _Run(cfg, fold, data, dev, model, adversary, optimizer, torch.Generator().manual_seed(cfg.seed * 1000 + fold),
               speaker_ids, rank=rank, world=world)
    run.groups = batch_groups(cfg.batch_by, data.train_speakers, data.train_genders)
    n_train = len(data.train_mels)
    if run.groups is None:  # one global batch per step, cut into equal parts, one per process
        run.iters = max(1, n_train // cfg.batch_size)
    else:  # one group's batch per process and step: each process draws its own speaker
        counts = pd.Series(run.groups).value_counts()
        run.iters = max(1, int(np.ceil(counts / cfg.batch_size).sum()) // world)
    return run


def _restore(run: _Run, state: dict) -> tuple[list[dict], int]:
    """Weights, optimiser and every random state from a checkpoint; returns its history and epoch."""
    run.model.load_state_dict(state["model"])
    if run.adversary is not None:
        run.adversary.load_state_dict(state["adversary"])
    run.optimizer.load_state_dict(state["optimizer"])
    checkpoints.set_rng_state(state["rng"], run.generator)
    run.saved_epoch = state["epoch"]
    if run.rank == 0:
        print(f"fold {run.fold}: resumed from {env.repo_relative(state['path'])} after epoch {state['epoch']}")
    return state["history"], state["epoch"]


def _batch(run: _Run, batches: list, it: int) -> tuple[torch.Tensor, slice]:
    """Step ``it``'s global batch (utterance indices) and this process's share of it."""
    if run.groups is None:
        local = run.cfg.batch_size // run.world
        return batches[it], slice(run.rank * local, (run.rank + 1) * local)
    parts = batches[it * run.world:(it + 1) * run.world]
    first = sum(len(b) for b in parts[:run.rank])
    return torch.cat(parts), slice(first, first + len(parts[run.rank]))


def _diverged(run: _Run, value: float, step: int, epoch: int, it: int, ckpt_path: Path) -> TrainingDiverged | None:
    """The error for a non-finite loss or a spike far above the running average, else None."""
    cfg, ema = run.cfg, run.ema
    if np.isfinite(value) and not (ema is not None and step >= 20 and cfg.spike_factor and value > cfg.spike_factor * ema):
        return None
    kept = (f"the last good checkpoint ({ckpt_path}, epoch {run.saved_epoch}) is kept"
            if run.saved_epoch is not None else "no checkpoint was written yet")
    return TrainingDiverged(
        f"fold {run.fold}: loss {'is not finite' if not np.isfinite(value) else 'spiked'} at step "
        f"{step} (epoch {epoch + 1}, iteration {it + 1}): {value:.4g}"
        + (f" against a running average of {ema:.4g}" if ema is not None else "")
        + f"; stopped before applying it, {kept}. Lower --lr or raise --warmup-epochs")


def _epoch(run: _Run, net: torch.nn.Module, epoch: int, bar, ckpt_path: Path, on_step=None) -> dict:
    """One epoch of MoCo v3 steps (lr warm-up and cosine, momentum schedule, the speaker head's
    ramp); returns the epoch's record (mean loss, last lr and momentum)."""
    cfg, data, dev = run.cfg, run.data, run.dev
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else contextlib.nullcontext()
    batches = epoch_batches(len(data.train_mels), cfg.batch_size, run.generator, run.groups)
    losses, adv_losses, adv_accs = [], [], []
    for it in range(run.iters):
        step = epoch * run.iters + it
        idx, mine = _batch(run, batches, it)
        x1, x2 = data.views(idx, run.generator)  # the global batch, the same in every process
        x1, x2 = x1[mine], x2[mine]
        frames = None
        if data.frame_targets is not None:  # a clean crop and its frame descriptors, after the views' draws
            frames = tuple(t[mine].to(dev) for t in data.frame_batch(idx, run.generator))
        progress_epochs = epoch + it / run.iters
        lr = learning_rate(cfg.lr, cfg.batch_size, progress_epochs, cfg.epochs, cfg.warmup_epochs)
        m = momentum(cfg.moco_m, progress_epochs, cfg.epochs, cfg.moco_m_cos)
        for g in run.optimizer.param_groups:
            g["lr"] = lr
        if on_step is not None:
            on_step(step, run.model)
        with amp:
            targets = None if data.targets is None else torch.from_numpy(data.targets[idx[mine].numpy()]).to(dev)
            if run.adversary is None:
                loss = net(x1, x2, m, targets=targets, frames=frames)
                ctr = loss.detach()
            else:
                scale = adversary_scale(cfg.adversary, progress_epochs / cfg.epochs)
                loss, ctr, adv, acc = net(x1, x2, m, run.speaker_ids[idx[mine]].to(dev), scale, targets, frames)
                adv_losses.append(float(adv))
                adv_accs.append(float(acc))
        value = ctr.float()
        if distributed():
            torch.distributed.all_reduce(value)
            value /= run.world
        value = float(value)
        error = _diverged(run, value, step, epoch, it, ckpt_path)
        if error:
            bar.close()
            raise error
        run.ema = value if run.ema is None else 0.9 * run.ema + 0.1 * value
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        losses.append(value)
        bar.update()
        bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr:.2e}", m=f"{m:.4f}")
    done = epoch + 1
    record = {"epoch": done, "step": done * run.iters, "loss": float(np.mean(losses)), "lr": lr, "momentum": m}
    if run.adversary is not None:  # the speaker head on the training speakers (chance: 1 / speakers)
        record.update(adversary_loss=float(np.mean(adv_losses)), adversary_acc=float(np.mean(adv_accs)))
    return record


def _after_epoch(run: _Run, record: dict, history: list[dict], out: Path, ckpt_path: Path) -> None:
    """Rank 0: the history file, the kept epoch's backbone, and the checkpoint when one is due."""
    cfg, done = run.cfg, record["epoch"]
    checkpoints.write_history(history_path(out, run.fold), history)
    if done in cfg.keep_epochs:
        _export(run, backbone_path(out, run.fold, done), done)
    if done % cfg.save_every == 0 or done == cfg.epochs:
        checkpoints.save_checkpoint(ckpt_path, run.model, run.optimizer, done, cfg.to_dict(), run.fold,
                                    run.generator, history, run.data.normalization, run.adversary)
        run.saved_epoch = done


def _export(run: _Run, path: Path, epoch: int) -> None:
    export_backbone(run.model.backbone, run.model.backbone_cfg, path, run.data.normalization,
                    {"fold": run.fold, "epoch": epoch, "pretrain": run.cfg.to_dict(), "device": device_name(run.dev)})


def pretrain_fold(meta: pd.DataFrame, fold: int, cfg: PretrainConfig, out: str | os.PathLike,
                  resume: str | None = None, init_from: str | None = None, device: str | None = None,
                  progress: bool = True, on_step=None) -> list[dict]:
    """Pretrain on the training utterances of fold ``fold`` of ``cfg.protocol`` (SI-5: its 8
    training speakers); returns the history.

    ``resume``: a checkpoint path, or ``"auto"`` for ``<out>/fold<k>/checkpoint.pt`` when it
    exists.  ``on_step(step, model)``, if given, is called before each step (tests use it).
    The pieces: :func:`_build` (model, optimiser, batch plan), :func:`_restore` (a checkpoint),
    :func:`_epoch` (the steps), :func:`_after_epoch` (history, kept epochs, checkpoints), :func:`_export`.
    """
    from tqdm.auto import tqdm

    rank = torch.distributed.get_rank() if distributed() else 0
    world = torch.distributed.get_world_size() if distributed() else 1
    if cfg.batch_size % world:
        raise EmolibError(f"--batch-size {cfg.batch_size} must be divisible by the {world} processes")
    dev = _device(device)
    ckpt_path = checkpoint_path(out, fold)
    state = checkpoints.checked_resume(resume, ckpt_path, cfg.to_dict(), PretrainConfig().to_dict(), fold)
    data = fold_data(meta, fold, cfg, progress=progress and rank == 0)
    run = _build(cfg, fold, data, dev, init_from, rank, world)
    history, start = _restore(run, state) if state is not None else ([], 0)
    net = run.model if run.adversary is None else _WithAdversary(run.model, run.adversary)
    if distributed():
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None,
                                      broadcast_buffers=False,  # masked alone leaves the MoCo heads unused
                                      find_unused_parameters=cfg.objective in ("masked", "none"))
    if rank == 0:
        checkpoints.write_history(history_path(out, fold), history)
    bar = tqdm(total=cfg.epochs * run.iters, initial=start * run.iters, desc=f"MoCo fold {fold}", unit="step",
               disable=not progress or rank != 0)
    run.model.train()
    t0 = time.perf_counter()
    for epoch in range(start, cfg.epochs):
        record = _epoch(run, net, epoch, bar, ckpt_path, on_step)
        done = record["epoch"]
        if rank == 0 and len(data.test_mels) and (done % cfg.knn_every == 0 or done == cfg.epochs
                                                 or done in cfg.keep_epochs):
            record.update(knn_monitor(run.model.backbone, data, cfg, dev))
            run.model.train()
        record["wall_s"] = round(time.perf_counter() - t0, 2)
        history.append(record)
        if rank == 0:
            _after_epoch(run, record, history, out, ckpt_path)
        if distributed():
            torch.distributed.barrier()
    bar.close()
    if rank == 0:
        _export(run, backbone_path(out, fold), cfg.epochs)
        ran = f"epochs {start + 1}-{cfg.epochs}" if start < cfg.epochs else f"all {cfg.epochs} epochs on disk already"
        steps.step(f"MoCo v3 pretraining, {'all speakers' if fold == ALL_SPEAKERS else f'fold {fold}'} "
                   f"({ran}, {device_name(dev)}), loss {history[-1]['loss']:.3f}", time.perf_counter() - t0)
    return history


def pretrain_folds(meta: pd.DataFrame, cfg: PretrainConfig, out: str | os.PathLike, device: str | None = None,
                   progress: bool = True, on_fold=None) -> list[dict]:
    """:func:`pretrain_fold` for every fold of ``cfg.protocol`` into ``<out>/fold<k>``, resumed where
    a checkpoint exists (a finished fold is only exported again); ``on_fold(k, last)`` is called
    after each.  Returns each fold's last history record, whose ``wall_s`` is what pretraining that
    fold cost even when it was resumed."""
    lasts = []
    for k in range(N_FOLDS[cfg.protocol]):
        lasts.append(pretrain_fold(meta, k, cfg, out, resume="auto", device=device, progress=progress)[-1])
        if on_fold:
            on_fold(k, lasts[-1])
    return lasts


def read_history(out: str | os.PathLike, fold: int) -> pd.DataFrame:
    path = history_path(out, fold)
    if not path.is_file():
        raise EmolibError(f"{path}: no pretraining history for fold {fold}; run python -m emolib pretrain "
                          f"--fold {fold} first")
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])


def launch(cfg: PretrainConfig, folds: Sequence[int], out: str | os.PathLike | None = None, *,
           corpus: str | None = None, root: str | None = None, resume: str | None = None,
           init_from: str | None = None, device: str | None = None, profile: str | None = None) -> dict[int, list[dict]]:
    """``python -m emolib pretrain``: :func:`pretrain_fold` for each of ``folds`` of ``cfg.protocol`` into
    ``out`` (default: :func:`emolib.ssl.pretrain_config.default_out` of the variant ``cfg``'s options
    make, ``custom`` when none), on the corpus ``corpus`` (at ``root``), with one line per fold.  Under
    ``torchrun`` (``WORLD_SIZE`` > 1) it joins the process group (NCCL on GPUs, gloo on CPUs) first.
    Returns each fold's history."""
    from ..data.corpus import load_corpus

    _device(device)  # a bad --device stops here, before the corpus is read
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and device != "cpu" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        torch.distributed.init_process_group(backend)
    histories = {}
    try:
        meta = load_corpus(corpus, root)
        # the folder of the options actually used (a flag that changes the variant's set gives another name)
        named = shortcut.variant_of(cfg.to_dict()) or "custom"
        out = Path(out) if out else default_out(corpus, profile, cfg.protocol, named)
        for k in folds:
            histories[k] = history = pretrain_fold(meta, k, cfg, out, resume=resume, init_from=init_from, device=device)
            if not distributed() or torch.distributed.get_rank() == 0:
                last = history[-1] if history else {}
                knn = f", k-NN UAR {last['knn_uar']:.3f}" if "knn_uar" in last else ""
                print(f"fold {k}: {last.get('epoch', 0)} epochs, loss {last.get('loss', float('nan')):.4f}{knn} "
                      f"-> {fold_dir(out, k)}")
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return histories

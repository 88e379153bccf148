"""Fine-tuning a pretrained fold encoder end to end, under SI-5 (docs/protocol.md).

:func:`finetune_cv` trains the ViT with a linear head on its class token (layer-wise lr decay,
random crops and SpecAugment), fold by fold from that fold's pretrained weights
(:func:`emolib.ssl.encoders.load_encoder`), or from random initialisation with the same budget, and
returns the held-out speakers' predictions.  :func:`emolib.studies.probing.finetune_row` writes them as a
results row with the budget, encoder and device they ran with.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..augmentation.spectrogram import MelBank, RandomTimeCrop, SpecAugment
from ..core import budgets, devices, steps
from ..data.emodb import CLASSES
from ..data.features import Standardizer, fit_standardizer, log_mels
from ..data.splits import folds
from ..models.schedule import warmup_cosine
from ..models.vit import BackboneConfig, create_backbone, over_windows
from ..ssl.encoders import input_norm, load_encoder
from ..ssl.standardize import encoder_inputs
from .metrics import Timer, predictions, uar, with_probabilities
from .probes import class_weights


@dataclass
class FinetuneConfig:
    """End-to-end training of the ViT with a linear head on the class token."""

    epochs: int = 30
    crops_per_epoch: int = 2     # random crops of every training utterance per epoch
    batch_size: int = 32
    lr: float = 1e-3             # the head's lr (AdamW); blocks below get lr · layer_decay^depth
    layer_decay: float = 0.75
    weight_decay: float = 0.05
    warmup_epochs: float = 3
    label_smoothing: float = 0.1
    freq_mask: int = 8
    time_mask: int = 16
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "crops_per_epoch", "batch_size"):
            if getattr(self, name) < 1 or (name == "batch_size" and self.batch_size < 2):
                raise ValueError(f"FinetuneConfig.{name} must be at least {2 if name == 'batch_size' else 1}, "
                                 f"got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


def finetune_config(profile: str | None = None, **overrides) -> FinetuneConfig:
    """The profile's fine-tuning budget (:data:`emolib.core.budgets.FINETUNE`) with ``overrides``."""
    return FinetuneConfig(**{**budgets.budget(budgets.FINETUNE, profile), **overrides})


class Classifier(nn.Module):
    """A ViT backbone and a linear head on its class token (or a CNN backbone and the head on its pooled map)."""

    def __init__(self, backbone: nn.Module, n_classes: int = len(CLASSES)):
        super().__init__()
        self.backbone = backbone
        pool = getattr(backbone, "global_pool", None)  # a CNN's mean+max pooling doubles its width
        self.head = nn.Linear(backbone.num_features * (pool.feat_mult() if hasattr(pool, "feat_mult") else 1), n_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def _layer_groups(model: Classifier, cfg: FinetuneConfig) -> list[dict]:
    """Parameter groups with layer-wise lr decay (BEiT/MAE): the head at ``lr``, block ``i``
    of ``depth`` at ``lr · decay^(depth - i)``, the patch embedding at ``lr · decay^(depth + 1)``;
    no weight decay on biases, norms and the class token.

    Kept rather than ``timm.optim.param_groups_layer_decay``: timm groups the bare ViT, whose top
    layer is its final norm, and decays the class token unless told; with our separate head it would
    scale every block one step differently (checked: 147 parameters differ) and so change the
    fine-tuning rows."""
    depth = len(getattr(model.backbone, "blocks", ()))  # a CNN backbone is one layer
    groups: dict[tuple[int, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("head") or name.startswith("backbone.norm") or name.startswith("backbone.fc_norm"):
            layer = depth + 1
        elif name.startswith("backbone.blocks."):
            layer = int(name.split(".")[2]) + 1
        else:
            layer = 0
        decay = p.ndim > 1 and "cls_token" not in name
        groups.setdefault((layer, decay), []).append(p)
    return [{"params": ps, "scale": cfg.layer_decay ** (depth + 1 - layer),
             "weight_decay": cfg.weight_decay if decay else 0.0} for (layer, decay), ps in sorted(groups.items())]


@torch.no_grad()
def utterance_logits(model: nn.Module, mels: Sequence[np.ndarray], std: Standardizer, frames: int,
                     batch_size: int = 256, device="cpu") -> np.ndarray:
    """Logits per utterance: the mean over its windows (:func:`emolib.models.vit.over_windows`)."""
    model.eval()
    mean_t, std_t = torch.from_numpy(std.mean)[:, None], torch.from_numpy(std.std)[:, None]
    return over_windows(lambda b: model(((b - mean_t) / std_t)[:, None].to(device)), mels, frames, batch_size)


def finetune_fold(meta: pd.DataFrame, fold: int, cfg: FinetuneConfig, out: str | os.PathLike | None,
                  backbone_cfg: BackboneConfig | None = None, device: str | None = None,
                  progress: bool = True, mels: Sequence[np.ndarray] | None = None,
                  protocol: str = "si5") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fine-tune on the training utterances of fold ``fold`` of ``protocol`` (SI-5: its 8 training
    speakers); returns the held-out utterances' predictions and the per-epoch history (train loss,
    held-out UAR as a monitor only).  The learning rate follows :func:`emolib.models.schedule.warmup_cosine`
    (per step, scaled per layer group); the predictions table is :func:`emolib.evaluation.metrics.predictions`'.

    ``out``: the pretraining folder whose fold encoder to start from; ``None`` starts from a
    random initialisation of ``backbone_cfg`` (the same shape), with the same budget.  ``mels``:
    the log-mels of ``meta`` when the caller has them already.  ``device``: default ``EMOLIB_DEVICE``,
    else the GPU when there is one (:func:`emolib.core.devices.resolve`)."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    device = devices.resolve(device)
    f = folds(meta, protocol)[fold]
    if mels is None:
        mels = log_mels(meta.path, progress=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed * 1000 + fold)
        if out is not None:
            backbone, info = load_encoder(out, fold, device="cpu")
            backbone.requires_grad_(True)
            frozen = info["backbone"]
            norm = info["normalization"]
            # the inputs as the encoder was pretrained on them (per-speaker or per-file centred log-mels)
            mels, mean, sd = encoder_inputs(mels, meta.speaker.astype(str).to_numpy(), input_norm(info),
                                            np.array(norm["mean"], np.float32), np.array(norm["std"], np.float32))
            std = Standardizer(mean.astype(np.float32), sd.astype(np.float32))
            frames = frozen["frames"]
            if hasattr(backbone, "pos_embed"):  # a ViT (a CNN has neither)
                if frozen.get("stop_grad_conv1"):
                    backbone.patch_embed.proj.requires_grad_(False)
                backbone.pos_embed.requires_grad_(False)
        else:
            if backbone_cfg is None:
                raise ValueError("fine-tuning from scratch needs backbone_cfg")
            backbone = create_backbone(backbone_cfg)
            std, frames = fit_standardizer(mels, f), backbone_cfg.frames
        model = Classifier(backbone).to(device)
        groups = _layer_groups(model, cfg)
        opt = torch.optim.AdamW(groups, lr=cfg.lr)
        train_mels = [std(mels[i]) for i in f.train]
        bank = MelBank(train_mels).to(device)
        labels = {c: i for i, c in enumerate(CLASSES)}
        y_all = meta.emotion.astype(str).map(labels).to_numpy()
        y = torch.from_numpy(y_all[f.train])
        weight = class_weights(y).to(device)
        crop, masks = RandomTimeCrop(frames), SpecAugment(cfg.freq_mask, cfg.time_mask)
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + fold)
        per_epoch = math.ceil(len(y) * cfg.crops_per_epoch / cfg.batch_size)
        total, step, history = cfg.epochs * per_epoch, 0, []
        bar = tqdm(total=total, desc=f"fine-tune fold {fold}" + (" (scratch)" if out is None else ""),
                   unit="step", disable=not progress)
        for epoch in range(cfg.epochs):
            model.train()
            order = torch.cat([torch.randperm(len(y), generator=gen) for _ in range(cfg.crops_per_epoch)])
            losses = []
            for i in range(per_epoch):
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                if len(idx) < 2:
                    continue
                scale = warmup_cosine(1.0, step / per_epoch, cfg.epochs, cfg.warmup_epochs)
                for g in opt.param_groups:
                    g["lr"] = cfg.lr * scale * g["scale"]
                x = masks(crop(bank, idx, gen), gen)[:, None]
                loss = F.cross_entropy(model(x), y[idx].to(device), weight=weight,
                                       label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                step += 1
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}")
            logits = utterance_logits(model, [mels[i] for i in f.test], std, frames, device=device)
            history.append({"fold": fold, "epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                            "test_uar": uar(y_all[f.test], logits.argmax(1))})
        bar.close()
    pred = np.array(CLASSES)[logits.argmax(1)]
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # the softmax of the windows' mean logits
    steps.step(f"fine-tuning fold {fold} from {'random weights' if out is None else 'its MoCo v3 encoder'} "
               f"({cfg.epochs} epochs, {devices.name(device)}), held-out UAR {history[-1]['test_uar']:.3f}", time.perf_counter() - t0)
    return with_probabilities(predictions(meta, f.test, fold, pred), proba), pd.DataFrame(history)


def finetune_cv(meta: pd.DataFrame, cfg: FinetuneConfig, out: str | os.PathLike | None,
                backbone_cfg: BackboneConfig | None = None, device: str | None = None,
                progress: bool = True, protocol: str = "si5") -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """:func:`finetune_fold` over every fold of ``protocol``: predictions, histories and wall seconds."""
    with Timer() as t:
        mels = log_mels(meta.path, progress=False)
        parts = [finetune_fold(meta, f.index, cfg, out, backbone_cfg, device, progress, mels, protocol)
                 for f in folds(meta, protocol)]
    return (pd.concat([p for p, _ in parts], ignore_index=True),
            pd.concat([h for _, h in parts], ignore_index=True), t.seconds)

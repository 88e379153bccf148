"""MoCo v3 (Chen, Xie & He, 2021) for spectrogram ViTs: the whole method on one screen.

Two encoders share one architecture: the *base* encoder (ViT backbone -> projector -> predictor)
learns by gradient descent; the *momentum* encoder (backbone -> projector, no predictor) is an
exponential moving average of it and receives no gradient.  For two views ``x1, x2`` of a batch
of utterances::

    q1, q2 = predictor(projector(backbone(x1))), predictor(projector(backbone(x2)))
    k1, k2 = momentum_projector(momentum_backbone(x1)), ... (x2)        # no gradient
    loss   = ctr(q1, k2) + ctr(q2, k1)
    ctr(q, k) = 2τ · CrossEntropy(q·kᵀ / τ, labels = the diagonal)      # q, k L2-normalised

i.e. InfoNCE: each query must pick the key of its own utterance among the keys of all the
utterances in the (global) batch; the factor 2τ keeps gradients comparable across τ.  Under
``torch.distributed`` the keys of all processes are gathered (no gradient flows through
them) and batch normalisation uses global batch statistics, so N processes compute the same
loss as one process on the whole batch.  Without a process group nothing of that is used.

*Masked prediction* (``objective="masked"`` or ``"both"``, ViTs only): a SimMIM-style objective on view 1 —
a share ``mask_ratio`` of its patches is replaced by a learned mask token before the position embedding, and
a linear decoder predicts each masked patch's log-mel values (each patch standardised on its own, as MAE's
normalised-pixel loss) from the backbone's output token there; the loss is the mean squared error over the
masked patches only (:meth:`MoCo.masked_loss`).  ``"both"`` adds it, weighted by ``masked_weight``, to the
contrastive loss; ``"masked"`` trains it alone (no contrastive term, no momentum encoder pass).

*Signal-derived targets* (``n_targets > 0``): a linear head regresses each utterance's targets (its eGeMAPS
functionals, standardised per training speaker: no emotion label) from both views' backbone outputs; the
mean squared error, weighted by ``targets_weight``, joins the objective's loss (``objective="none"``: alone).
*Frame targets* (``n_frame_targets > 0``, PASE's "workers" in miniature): a linear head regresses openSMILE's
frame descriptors (F0 with voicing, loudness, HNR, spectral slopes, MFCC 1-4…, standardised per training speaker)
from the backbone's output at each time step of a clean crop — a CNN's last feature map averaged over frequency,
a ViT's patch tokens averaged over each column — against the descriptors averaged over the frames each step
covers (:meth:`MoCo.frame_loss`), weighted by ``targets_weight`` too.

Schedules (per iteration): learning rate ``blr · batch / 256`` with a linear warm-up then a
cosine decay to zero; momentum ``1 - (1 - m) · (1 + cos(π · progress)) / 2``, from ``m`` (0.99)
to 1.
"""
from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..models.schedule import warmup_cosine
from ..models.vit import BackboneConfig, create_backbone
from .shortcut import OBJECTIVES


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over the global batch: under ``torch.distributed`` the per-feature sums are
    all-reduced (with autograd) before normalising, like ``SyncBatchNorm`` but on any device
    and backend (gloo on CPU included); a plain ``BatchNorm1d`` otherwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and distributed()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        stats = torch.cat([x.sum(0), (x * x).sum(0), x.new_full((1,), len(x))])
        stats = all_reduce(stats)
        d = x.shape[1]
        n = stats[-1]
        mean, var = stats[:d] / n, stats[d:2 * d] / n - (stats[:d] / n) ** 2
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))
        out = (x - mean) / torch.sqrt(var + self.eps)
        return out * self.weight + self.bias if self.affine else out


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, last_bn: bool = True) -> nn.Sequential:
    """MoCo v3's MLP heads: Linear -> BN -> ReLU repeated, then Linear (-> BN without affine)."""
    mods: list[nn.Module] = []
    for i in range(layers):
        last = i == layers - 1
        mods.append(nn.Linear(in_dim if i == 0 else hidden, out_dim if last else hidden, bias=False))
        if not last:
            mods += [GlobalBatchNorm1d(hidden), nn.ReLU(inplace=True)]
        elif last_bn:
            mods.append(GlobalBatchNorm1d(out_dim, affine=False))
    return nn.Sequential(*mods)


def _sizes(n: int, device) -> list[int]:
    """Every process's local batch size (they differ with one-speaker batches)."""
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([n], dtype=torch.long, device=device))
    return [int(s) for s in sizes]


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """All processes' ``x`` concatenated along the batch (no gradient); ``x`` itself alone.
    Local batches may differ in size: each is padded to the largest for the exchange."""
    if not distributed():
        return x
    sizes = _sizes(len(x), x.device)
    padded = torch.cat([x, x.new_zeros(max(sizes) - len(x), *x.shape[1:])]) if max(sizes) > len(x) else x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:n] for p, n in zip(parts, sizes)])


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """``(B, 1, H, W)`` -> ``(B, H/p · W/p, p·p)``: the patches in the ViT's order (row by row)."""
    B, _, H, W = x.shape
    return x.reshape(B, H // p, p, W // p, p).permute(0, 1, 3, 2, 4).reshape(B, (H // p) * (W // p), p * p)


def random_mask(batch: int, n: int, ratio: float, device) -> torch.Tensor:
    """``(batch, n)`` booleans, exactly ``round(ratio · n)`` True per row at random places (torch's RNG)."""
    k = int(round(ratio * n))
    order = torch.rand(batch, n, device=device).argsort(dim=1)
    return torch.zeros(batch, n, dtype=torch.bool, device=device).scatter_(1, order[:, :k], True)


class MoCo(nn.Module):
    def __init__(self, backbone_cfg: BackboneConfig = BackboneConfig(), dim: int = 256,
                 mlp_dim: int = 4096, temperature: float = 0.2, objective: str = "moco",
                 mask_ratio: float = 0.6, masked_weight: float = 1.0, n_targets: int = 0,
                 targets_weight: float = 1.0, n_frame_targets: int = 0):
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective {objective!r}: choose one of {OBJECTIVES}")
        if objective in ("masked", "both") and backbone_cfg.cnn:
            raise ValueError("the masked objective needs a ViT backbone")
        if objective == "none" and not (n_targets or n_frame_targets):
            raise ValueError("objective 'none' needs signal-derived targets (n_targets or n_frame_targets > 0)")
        self.backbone_cfg, self.temperature = backbone_cfg, temperature
        self.objective, self.mask_ratio, self.masked_weight = objective, mask_ratio, masked_weight
        width = backbone_cfg.embed_dim
        self.base_encoder = nn.Sequential()  # backbone + projector, as in the official layout
        self.base_encoder.add_module("backbone", create_backbone(backbone_cfg))
        self.base_encoder.add_module("projector", mlp(width, mlp_dim, dim, 3))
        self.predictor = mlp(dim, mlp_dim, dim, 2, last_bn=False)
        self.momentum_encoder = nn.Sequential()
        self.momentum_encoder.add_module("backbone", create_backbone(backbone_cfg))
        self.momentum_encoder.add_module("projector", mlp(width, mlp_dim, dim, 3))
        self.momentum_encoder.load_state_dict(self.base_encoder.state_dict())
        self.momentum_encoder.requires_grad_(False)
        self.targets_weight = targets_weight
        if n_targets:
            self.regressor = nn.Linear(width, n_targets)
        if n_frame_targets:  # a CNN's pooled output is its map's mean and max side by side: half as wide per step
            self.frame_regressor = nn.Linear(width // 2 if backbone_cfg.cnn else width, n_frame_targets)
        if objective in ("masked", "both"):
            p = backbone_cfg.patch_size
            self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
            nn.init.normal_(self.mask_token, std=0.02)
            self.decoder = nn.Linear(width, p * p)  # SimMIM's one-layer prediction head

    @property
    def backbone(self) -> nn.Module:
        return self.base_encoder.backbone

    @torch.no_grad()
    def update_momentum_encoder(self, m: float) -> None:
        for p_m, p_b in zip(self.momentum_encoder.parameters(), self.base_encoder.parameters()):
            p_m.mul_(m).add_(p_b.detach(), alpha=1 - m)

    def contrastive_loss(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        q, k = F.normalize(q, dim=1), F.normalize(gather(F.normalize(k, dim=1)), dim=1)
        logits = q @ k.T / self.temperature
        offset = sum(_sizes(len(q), q.device)[:dist.get_rank()]) if distributed() else 0
        labels = torch.arange(len(q), device=q.device) + offset
        return F.cross_entropy(logits, labels) * (2 * self.temperature)

    def masked_predictions(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The decoded patches ``(B, N, p·p)`` of ``x`` ``(B, 1, n_mels, frames)`` when the patches where ``mask``
        ``(B, N)`` is True enter as the mask token (their content never reaches the backbone)."""
        vit = self.backbone
        tokens = vit.patch_embed(x)
        tokens = torch.where(mask[..., None], self.mask_token.to(tokens.dtype).expand_as(tokens), tokens)
        h = vit.norm(vit.blocks(vit.norm_pre(vit.patch_drop(vit._pos_embed(tokens)))))
        return self.decoder(h[:, getattr(vit, "num_prefix_tokens", 1):])

    def masked_loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Masked prediction on ``x``: the mean squared error of :meth:`masked_predictions` at the masked
        patches (``mask``, default :func:`random_mask` at ``mask_ratio``) against their log-mel values, each
        patch standardised on its own (MAE's normalised-pixel target)."""
        target = patchify(x, self.backbone_cfg.patch_size)
        if mask is None:
            mask = random_mask(target.shape[0], target.shape[1], self.mask_ratio, x.device)
        target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
        return ((self.masked_predictions(x, mask).float() - target.float()) ** 2).mean(-1)[mask].mean()

    def frame_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's output at each time step of ``x`` ``(B, 1, n_mels, frames)``: ``(B, steps, width)`` — a
        CNN's last feature map averaged over frequency, a ViT's patch tokens averaged over each column of patches."""
        h = self.backbone.forward_features(x)
        if self.backbone_cfg.cnn:
            return h.mean(2).transpose(1, 2)
        p = self.backbone_cfg.patch_size
        B, rows, cols = h.shape[0], x.shape[2] // p, x.shape[3] // p
        return h[:, getattr(self.backbone, "num_prefix_tokens", 1):].reshape(B, rows, cols, -1).mean(1)

    def frame_loss(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The mean squared error of the frame head on :meth:`frame_outputs` of ``x`` against ``targets``
        ``(B, n, frames)`` averaged over the frames of each step."""
        h = self.frame_outputs(x)
        t = F.adaptive_avg_pool1d(targets.float(), h.shape[1]).transpose(1, 2)
        return F.mse_loss(self.frame_regressor(h).float(), t)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, m: float, features: bool = False,
                targets: torch.Tensor | None = None, frames: tuple | None = None):
        """The symmetric loss for a batch of view pairs; updates the momentum encoder with
        momentum ``m`` first (as the official code does, before computing the keys).  With
        ``features``, also the backbone outputs of both views (for a speaker adversary).  With the
        masked objective, its loss on view 1 instead of (``"masked"``) or besides (``"both"``) the contrastive one;
        with ``targets`` ``(B, n_targets)``, their regression from both views added; with ``frames`` (a clean crop
        and its frame descriptors, :meth:`emolib.ssl.inputs.FoldData.frame_batch`), :meth:`frame_loss` added."""
        h1 = h2 = None
        loss = x1.new_zeros(())  # the terms in the order that keeps earlier runs' numbers: contrastive, masked, targets
        if self.objective in ("moco", "both") or features or targets is not None:
            h1, h2 = self.backbone(x1), self.backbone(x2)
        if self.objective in ("moco", "both"):
            q1 = self.predictor(self.base_encoder.projector(h1))
            q2 = self.predictor(self.base_encoder.projector(h2))
            with torch.no_grad():
                self.update_momentum_encoder(m)
                k1, k2 = self.momentum_encoder(x1), self.momentum_encoder(x2)
            loss = loss + self.contrastive_loss(q1, k2) + self.contrastive_loss(q2, k1)
        if self.objective in ("masked", "both"):
            loss = loss + (1.0 if self.objective == "masked" else self.masked_weight) * self.masked_loss(x1)
        if targets is not None:
            t = targets.to(h1.dtype)
            loss = loss + self.targets_weight * 0.5 * (F.mse_loss(self.regressor(h1), t) + F.mse_loss(self.regressor(h2), t))
        if frames is not None:
            loss = loss + self.targets_weight * self.frame_loss(*frames)
        return (loss, torch.cat([h1, h2])) if features else loss


def learning_rate(blr: float, batch_size: int, progress_epochs: float, epochs: int, warmup: float) -> float:
    """``blr · batch / 256``, linear warm-up over ``warmup`` epochs, then cosine to zero
    (:func:`emolib.models.schedule.warmup_cosine`)."""
    return warmup_cosine(blr * batch_size / 256, progress_epochs, epochs, warmup)


def momentum(m: float, progress_epochs: float, epochs: int, cosine: bool = True) -> float:
    """From ``m`` at the start to 1 at the end (cosine), or constant ``m``."""
    if not cosine:
        return m
    return 1 - (1 - m) * 0.5 * (1 + math.cos(math.pi * min(progress_epochs / epochs, 1.0)))


class LARS(torch.optim.Optimizer):
    """LARS (You et al.): SGD with momentum whose step for each weight matrix is scaled by
    ``trust · ‖w‖ / ‖g + wd·w‖``; biases and norms (1-D parameters) take plain steps, no decay.

    Kept rather than ``timm.optim.Lars``: timm's trust ratio divides by ``‖g‖ + wd·‖w‖ + eps`` (an
    upper bound of ``‖g + wd·w‖``) and decays every parameter of a group, so it takes other steps
    than MoCo v3's LARS, which this follows."""

    def __init__(self, params, lr: float = 0.0, weight_decay: float = 0.0, momentum: float = 0.9,
                 trust: float = 0.001):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, trust=trust))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if p.ndim > 1:
                    g = g.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.norm(p), torch.norm(g)
                    scale = torch.where((w_norm > 0) & (g_norm > 0), group["trust"] * w_norm / g_norm,
                                        torch.ones_like(w_norm))
                    g = g.mul(scale)
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])

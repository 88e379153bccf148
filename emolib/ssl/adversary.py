"""The speaker adversary (``adversary``, :mod:`emolib.ssl.shortcut`): a head that finds the training
speaker from the backbone's output behind a gradient reversal, so the backbone learns to hide it."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient multiplied by ``-scale`` backward (Ganin & Lempitsky, 2015)."""

    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


class SpeakerAdversary(nn.Module):
    """A two-layer head predicting the training speaker from backbone features, behind a
    gradient reversal: the head learns to find the speaker, the backbone (through the reversal,
    weighted by ``scale``) to hide it.  Returns the head's cross-entropy and its accuracy."""

    def __init__(self, width: int, n_speakers: int, hidden: int = 256):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_speakers))

    def forward(self, features: torch.Tensor, speakers: torch.Tensor,
                scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(GradientReversal.apply(features.float(), scale))
        return F.cross_entropy(logits, speakers), (logits.argmax(1) == speakers).float().mean()


def adversary_scale(weight: float, progress: float) -> float:
    """DANN's ramp ``weight · (2 / (1 + e^(-10 p)) - 1)`` over training progress ``p`` in [0, 1]:
    the reversal starts at 0 while the features are still random."""
    return weight * (2 / (1 + math.exp(-10 * min(max(progress, 0.0), 1.0))) - 1)

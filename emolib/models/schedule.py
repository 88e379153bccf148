"""The learning-rate schedule shared by MoCo v3 pretraining and fine-tuning: a linear warm-up, then a
half cosine to zero (as MoCo v3, MAE and BEiT use).

Kept rather than ``torch.optim.lr_scheduler`` (``LinearLR`` + ``CosineAnnealingLR`` in a ``SequentialLR``):
our trainings set the rate of every step from fractional epochs (a step is ``1 / steps_per_epoch`` of an
epoch), scale it per parameter group (layer-wise decay) and resume exactly from a checkpoint's epoch,
which one pure function of the progress does without any scheduler state to save."""
from __future__ import annotations

import math


def warmup_cosine(peak: float, progress: float, total: float, warmup: float) -> float:
    """The rate at ``progress`` (in epochs, fractional) of a run of ``total`` epochs: ``peak · progress /
    warmup`` during the first ``warmup`` epochs, then ``peak · (1 + cos(π · done)) / 2`` with ``done`` the
    fraction of the remaining epochs passed (capped at 1)."""
    if progress < warmup:
        return peak * progress / warmup
    done = (progress - warmup) / max(total - warmup, 1e-8)
    return peak * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))

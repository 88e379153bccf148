"""Speaker and gender batches (``batch_by``, :mod:`emolib.ssl.shortcut`): one epoch's batches of
utterance indices, mixed, or each batch from one speaker (one gender) so that the in-batch negatives
share the voice of the positives."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .shortcut import BATCH_BY


def epoch_batches(n: int, batch_size: int, generator: torch.Generator,
                  groups: Sequence | None = None) -> list[torch.Tensor]:
    """One epoch's batches of utterance indices ``0..n-1``.

    Without ``groups``: a random permutation cut into ``max(1, n // batch_size)`` batches of
    ``batch_size`` (the remainder is left out, a different one each epoch).  With ``groups``
    (one label per utterance: its speaker, or its gender): each group's utterances in random
    order, cut into ``ceil(size / batch_size)`` batches of nearly equal size, so every
    utterance appears exactly once and no batch mixes groups; the batches in random order."""
    if groups is None:
        perm = torch.randperm(n, generator=generator)
        return [perm[i * batch_size:(i + 1) * batch_size] for i in range(max(1, n // batch_size))]
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ValueError(f"epoch_batches: {len(groups)} group labels for {n} utterances")
    batches: list[torch.Tensor] = []
    for g in sorted(set(groups.tolist())):
        members = torch.from_numpy(np.flatnonzero(groups == g))
        members = members[torch.randperm(len(members), generator=generator)]
        batches += list(torch.tensor_split(members, math.ceil(len(members) / batch_size)))
    order = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in order]


def batch_groups(batch_by: str, speakers: Sequence[str], genders: Sequence[str]) -> np.ndarray | None:
    """The group label of each utterance for ``batch_by`` (None for mixed batches)."""
    if batch_by not in BATCH_BY:
        raise ValueError(f"batch_by must be one of {', '.join(BATCH_BY)}, got {batch_by!r}")
    return None if batch_by == "none" else np.asarray(speakers if batch_by == "speaker" else genders)

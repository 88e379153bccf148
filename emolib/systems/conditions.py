"""A system's features of degraded recordings (:mod:`emolib.augmentation.degrade`): what the robustness study
tests on and multi-condition training trains on, cached like the clean features.

- :func:`degraded_inputs`: a system's front-end output (:attr:`emolib.systems.registry.System.frontend`) of
  some utterances under one condition; a babble condition mixes the *training* utterances of the fold the
  utterances are tested in (:func:`babble_sources`), never a test speaker's;
- :func:`rows`: those outputs as the system's feature rows, embedded by an encoder for a per-fold system;
- :func:`with_copies`: training rows with their multi-condition copies (each utterance's two conditions of
  :func:`emolib.augmentation.degrade.training_copies`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..augmentation.degrade import COPIES, Condition, Degraded, training_copies
from ..data.audio import load_audio
from ..data.features import FeatureCache, extract
from . import registry

SEED = 0


def babble_sources(meta: pd.DataFrame, fold) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """What the babble of fold ``fold``'s test utterances is mixed from: its *training* utterances (names and
    waveforms), never a test speaker's."""
    return tuple(meta.file.iloc[fold.train]), [load_audio(p) for p in meta.path.iloc[fold.train]]


def degraded_inputs(meta: pd.DataFrame, system: str, condition: Condition, rows: Sequence[int], fold=None,
                    progress: bool = False) -> list[np.ndarray]:
    """The front-end outputs of ``meta``'s ``rows`` degraded by ``condition`` (cached); a babble condition
    mixes :func:`babble_sources` of ``fold``."""
    names, sources = (), ()
    if condition.params.get("noise") == "babble":
        if fold is None:
            raise ValueError(f"{condition.name}: babble needs the fold whose training speakers it is mixed from")
        names, sources = babble_sources(meta, fold)
    front = Degraded(registry.get(system).frontend(), condition, names, sources, SEED)
    return extract(list(meta.path.iloc[list(rows)]), front, cache=FeatureCache(front), progress=progress)


def rows(system: str, inputs: Sequence[np.ndarray], encoder: tuple | None = None) -> np.ndarray:
    """Front-end outputs as the system's feature rows; a per-fold system's log-mels embedded by ``encoder``
    (``(backbone, its JSON config)``, :func:`emolib.ssl.encoders.load_encoder`)."""
    sysinfo = registry.get(system)
    if not sysinfo.per_fold:
        return np.stack([sysinfo.reduce(x) for x in inputs]).astype(np.float64)
    return sysinfo.encode(encoder, inputs)


def with_copies(meta: pd.DataFrame, system: str, train: np.ndarray, X: np.ndarray, encoder: tuple | None = None,
                copies: int = COPIES) -> tuple[np.ndarray, np.ndarray]:
    """The training rows ``train`` (their features ``X``, one per row of ``train``) followed by their
    multi-condition copies: returns the features and, for each, the row of ``meta`` it comes from."""
    drawn = training_copies(list(meta.file.iloc[train]), SEED, copies)
    parts, owners = [np.asarray(X, np.float64)], [np.asarray(train)]
    for j in range(copies):
        by_condition: dict[str, list[int]] = {}
        for i, conds in zip(train, drawn):
            by_condition.setdefault(conds[j].name, []).append(i)
        for name, members in sorted(by_condition.items()):
            condition = next(c[j] for c in drawn if c[j].name == name)
            parts.append(rows(system, degraded_inputs(meta, system, condition, members), encoder))
            owners.append(np.asarray(members))
    return np.vstack(parts), np.concatenate(owners)

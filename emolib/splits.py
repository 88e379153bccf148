"""Evaluation splits: the one definition of SI-5 (docs/protocol.md), LOSO, and the report's leaky split.

- **SI-5** (the headline protocol): speaker-independent 5-fold cross-validation; fold k holds
  out one male and one female speaker.  Everything learned from data is fitted on the 8
  training speakers of the fold.
- **LOSO**: leave-one-speaker-out, 10 folds.
- :func:`leaky_random_split`: the course report's random 80/20 split over *segments*, which
  puts segments of one utterance and one speaker on both sides.  It exists only to show the
  leakage and must never be reported as speaker-independent.

Speaker folds are built on scikit-learn's ``LeaveOneGroupOut`` with the group of each row
being its SI-5 fold (or its speaker for LOSO).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneGroupOut, train_test_split

#: Held-out (male, female) speakers of the five SI-5 folds, in fold order.
SI5_FOLDS = (("03", "08"), ("10", "09"), ("11", "13"), ("12", "14"), ("15", "16"))
PROTOCOLS = ("si5", "loso")


@dataclass(frozen=True)
class Fold:
    """One speaker-independent fold: row indices into the metadata table."""

    protocol: str
    index: int
    test_speakers: tuple[str, ...]
    train: np.ndarray
    test: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.protocol}-{self.index}"


def _groups(speakers: np.ndarray, protocol: str) -> np.ndarray:
    if protocol == "loso":
        return speakers
    if protocol != "si5":
        raise ValueError(f"protocol={protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    fold_of = {s: k for k, pair in enumerate(SI5_FOLDS) for s in pair}
    unknown = sorted(set(speakers) - set(fold_of))
    if unknown:
        raise ValueError(f"speakers {unknown} are not EmoDB speakers; SI-5 folds are defined for "
                         f"{sorted(fold_of)}")
    return np.array([fold_of[s] for s in speakers])


def speaker_folds(speakers: Sequence[str] | pd.DataFrame, protocol: str = "si5") -> list[Fold]:
    """The folds of ``protocol`` ("si5" or "loso") over rows with these speaker ids.

    ``speakers`` is the speaker column (or the metadata table itself).  Each row is tested in
    exactly one fold, and no speaker is ever on both sides of a fold.
    """
    if isinstance(speakers, pd.DataFrame):
        speakers = speakers["speaker"]
    speakers = np.asarray(speakers, dtype=str)
    groups = _groups(speakers, protocol)
    folds = []
    for k, (train, test) in enumerate(LeaveOneGroupOut().split(speakers, groups=groups)):
        folds.append(Fold(protocol, k, tuple(sorted(set(speakers[test]))), train, test))
    return folds


def folds_table(meta: pd.DataFrame, protocol: str = "si5") -> pd.DataFrame:
    """A readable summary of the folds: held-out speakers with gender, and row counts."""
    rows = []
    for f in speaker_folds(meta, protocol):
        held = meta.iloc[f.test].drop_duplicates("speaker").sort_values("gender", ascending=False)
        rows.append({
            "fold": f.index,
            "test speakers": ", ".join(f"{s} ({g})" for s, g in zip(held.speaker, held.gender)),
            "train speakers": meta.iloc[f.train].speaker.nunique(),
            "train utterances": len(f.train),
            "test utterances": len(f.test),
        })
    return pd.DataFrame(rows).set_index("fold")


def leaky_random_split(n_segments: int, test_size: float = 0.2, seed: int = 0,
                       stratify: Sequence | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The report's random split over segments: NOT speaker-independent (leaks speakers and
    utterances across the split).  Returns (train, test) segment indices."""
    idx = np.arange(n_segments)
    train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)

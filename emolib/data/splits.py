"""Evaluation splits: the one definition of SI-5 (docs/protocol.md), LOSO, and the report's leaky split.

- **SI-5** (the headline protocol): speaker-independent 5-fold cross-validation; fold k holds
  out one male and one female speaker.  Everything learned from data is fitted on the 8
  training speakers of the fold.
- **LOSO**: leave-one-speaker-out, 10 folds.
- **EmoBox** ("EmoBox 5-fold (speaker-dependent)"): the five EmoDB test folds of the EmoBox
  benchmark (Ma et al., Interspeech 2024; repository emo-box/EmoBox, files
  ``data/emodb/fold_k/emodb_test_fold_k.jsonl``), shipped as ``emolib/data/emobox_emodb_folds.csv``
  (file, EmoBox fold 1-5).  Every test fold holds utterances of all ten speakers, so it is
  **speaker-dependent**: here only to set our numbers beside the EmoBox leaderboard, never a
  headline.  Our fold index k is EmoBox's ``fold_{k+1}``.
- :func:`leaky_random_split`: the course report's random 80/20 split over *segments*, which
  puts segments of one utterance and one speaker on both sides.  It exists only to show the
  leakage and must never be reported as speaker-independent.

Folds are built on scikit-learn's ``LeaveOneGroupOut`` with the group of each row being its
SI-5 fold, its speaker (LOSO) or its EmoBox fold.
"""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneGroupOut, train_test_split

#: Held-out (male, female) speakers of the five SI-5 folds, in fold order.
SI5_FOLDS = (("03", "08"), ("10", "09"), ("11", "13"), ("12", "14"), ("15", "16"))
#: Protocol ids -> the protocol name written to results rows (one definition for every study).
PROTOCOL_NAMES = {"si5": "SI-5", "loso": "LOSO", "emobox": "EmoBox 5-fold (speaker-dependent)"}
PROTOCOLS = tuple(PROTOCOL_NAMES)
#: Protocols whose test folds never share a speaker with their training folds.
SPEAKER_INDEPENDENT = ("si5", "loso")


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


def protocol_id(name: str) -> str:
    """``"si5"`` for ``"SI-5"`` (a row's protocol name), and so on; ids pass through."""
    ids = {v: k for k, v in PROTOCOL_NAMES.items()}
    if name in PROTOCOL_NAMES or name in ids:
        return ids.get(name, name)
    raise ValueError(f"protocol={name!r}: choose one of {', '.join(PROTOCOLS)}")


@functools.lru_cache(maxsize=1)
def emobox_folds() -> dict[str, int]:
    """EmoDB file name -> its EmoBox test fold (1-5), from the shipped list."""
    text = resources.files("emolib").joinpath("data/emobox_emodb_folds.csv").read_text()
    return {row["file"]: int(row["fold"]) for row in csv.DictReader(text.splitlines())}


def _emobox_groups(files: np.ndarray) -> np.ndarray:
    fold_of = emobox_folds()
    unknown = [f for f in files if f not in fold_of]
    if unknown:
        raise ValueError(f"{len(unknown)} files (e.g. {unknown[0]}) are not in EmoBox's EmoDB folds "
                         "(emolib/data/emobox_emodb_folds.csv): the EmoBox folds are defined for EmoDB's 535 "
                         "files only; use --corpus emodb")
    return np.array([fold_of[f] - 1 for f in files])


def _groups(speakers: np.ndarray, protocol: str) -> np.ndarray:
    if protocol == "loso":
        return speakers
    if protocol not in PROTOCOL_NAMES:
        raise ValueError(f"protocol={protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    if protocol != "si5":
        raise ValueError(f"protocol={protocol!r} is not defined by speakers: use splits.folds(meta, {protocol!r})")
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
    return _folds(speakers, _groups(speakers, protocol), protocol)


def _folds(speakers: np.ndarray, groups: np.ndarray, protocol: str) -> list[Fold]:
    """One fold per group (in group order): its rows tested, every other row trained on."""
    return [Fold(protocol, k, tuple(sorted(set(speakers[test]))), train, test)
            for k, (train, test) in enumerate(LeaveOneGroupOut().split(speakers, groups=groups))]


def folds(meta: pd.DataFrame, protocol: str = "si5") -> list[Fold]:
    """The folds of any protocol over the rows of ``meta`` (columns ``speaker``, and ``file``
    for ``emobox``): :func:`speaker_folds` for SI-5 and LOSO; for EmoBox, fold k tests the
    files of EmoBox's ``fold_{k+1}`` (all ten speakers each) and trains on the other four."""
    if protocol != "emobox":
        return speaker_folds(meta, protocol)
    return _folds(meta["speaker"].astype(str).to_numpy(), _emobox_groups(meta["file"].astype(str).to_numpy()),
                  protocol)


def fold_of(meta: pd.DataFrame, protocol: str = "si5") -> np.ndarray:
    """Each row's fold under ``protocol``: the index of the fold that tests it."""
    out = np.empty(len(meta), int)
    for f in folds(meta, protocol):
        out[f.test] = f.index
    return out


def folds_table(meta: pd.DataFrame, protocol: str = "si5") -> pd.DataFrame:
    """A readable summary of the folds: test speakers with gender, and row counts."""
    rows = []
    for f in folds(meta, protocol):
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

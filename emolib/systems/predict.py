"""Emotion predictions for any recording: ``python -m emolib predict FILE…``.

Each file is read as 16 kHz mono (:func:`emolib.data.audio.load_audio`: any sample rate is resampled,
several channels are averaged; unreadable, silent or too-short files are refused with their name
before any model work).  The models were trained on whole EmoDB utterances (1.2-9 s), so a file of
up to :data:`LONG_S` seconds is scored whole; a longer one is cut into windows of :data:`WINDOW_S`
seconds every :data:`HOP_S` seconds, each scored like an utterance, and the file's probabilities are
the mean of its windows'.  ``per_window`` returns the windows of every file (the emotion over time).

Speaker normalisation (the ``_spknorm`` models) standardises every feature with the statistics of
the speaker's own recordings; here those are the recordings given in one call (at least
:data:`MIN_NORM_UNITS` scored units), which must then all be one speaker's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.errors import AudioError, EmolibError
from ..data.audio import SAMPLE_RATE, load_audio
from ..data.emodb import CLASSES
from ..data.features import speaker_standardize
from . import quality
from .final import FinalModel

LONG_S = 10.0     # EmoDB's longest utterance is under 9 s: anything up to this is scored whole
WINDOW_S = 3.0    # about EmoDB's mean utterance length (2.8 s)
HOP_S = 1.5
MIN_SECONDS = 0.5  # shorter than EmoDB's shortest utterance by half: too little to score
MIN_NORM_UNITS = 10


#: Below this calibrated top probability an answer is marked unsure (two emotions about level, or worse).
UNSURE = 0.5


@dataclass
class Prediction:
    """One file's (or window's) predicted emotion and calibrated class probabilities; for a file also its
    quality measures (:func:`emolib.systems.quality.measure`), the ways it lies outside what the model was
    trained on (``warnings``), how far its features lie from the training recordings' (``distance``, to the
    nearest ones, as a multiple of how far 99 % of a new speaker's recordings lie), and whether the answer is ``unsure`` (top probability below
    :data:`UNSURE`)."""

    file: str
    emotion: str
    probabilities: dict[str, float]
    start: float = 0.0
    end: float = 0.0
    quality: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    distance: float | None = None

    @property
    def unsure(self) -> bool:
        return self.probabilities[self.emotion] < UNSURE

    def to_dict(self) -> dict:
        out = {"file": self.file, "start_s": round(self.start, 2), "end_s": round(self.end, 2),
               "emotion": self.emotion, "unsure": self.unsure,
               "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}
        if self.quality:
            out.update(quality={k: round(v, 4) for k, v in self.quality.items()}, warnings=list(self.warnings),
                       distance=None if self.distance is None else round(self.distance, 3))
        return out


def windows(n_samples: int, sr: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges of :data:`WINDOW_S`-second windows every :data:`HOP_S` seconds;
    the last one ends at the end of the file, and a file shorter than a window is one window."""
    size, hop = int(WINDOW_S * sr), int(HOP_S * sr)
    if n_samples <= size:
        return [(0, n_samples)]
    starts = list(range(0, n_samples - size + 1, hop))
    if starts[-1] + size < n_samples:
        starts.append(n_samples - size)
    return [(s, s + size) for s in starts]


def read(paths: Sequence[str | os.PathLike]) -> list[np.ndarray]:
    """Every file as 16 kHz mono, or one :class:`EmolibError` naming each file that cannot be scored
    (one line per file), before any model work."""
    if not paths:
        raise EmolibError("predict: name at least one audio file (WAV, FLAC, OGG, or MP3 where soundfile reads it)")
    waves, problems = [], []
    for p in paths:
        try:
            waves.append(load_audio(p, min_seconds=MIN_SECONDS))
        except AudioError as e:
            problems.append(str(e))
    if problems:
        raise EmolibError("\n".join(problems) + f"\n{len(problems)} of {len(paths)} file(s) cannot be scored; "
                          "nothing was predicted")
    return waves


def _units(waves: Sequence[np.ndarray], per_window: bool) -> tuple[list[np.ndarray], list[tuple[int, int, int]], list[bool]]:
    """The pieces to score: ``(pieces, (file, start, end) of each, whether each is a whole file)``.
    Whole files up to LONG_S, else windows; with ``per_window`` every file's windows are scored too."""
    pieces, where, whole = [], [], []
    for i, y in enumerate(waves):
        long = len(y) > LONG_S * SAMPLE_RATE
        if not long:
            pieces.append(y)
            where.append((i, 0, len(y)))
            whole.append(True)
        if long or per_window:
            for s, e in windows(len(y)):
                pieces.append(y[s:e])
                where.append((i, s, e))
                whole.append(False)
    return pieces, where, whole


def predict_waves(model: FinalModel, waves: Sequence[np.ndarray], names: Sequence[str], per_window: bool = False,
                  jobs: int = 1) -> tuple[list[Prediction], list[Prediction]]:
    """File predictions (one per wave) and window predictions (long files', or every file's with
    ``per_window``)."""
    pieces, where, whole = _units(waves, per_window)
    # the units that make the files' predictions: whole files, and the windows of long files
    units = np.array([whole[j] or len(waves[f]) > LONG_S * SAMPLE_RATE for j, (f, _, _) in enumerate(where)])
    if model.speaker_norm and units.sum() < MIN_NORM_UNITS:
        raise EmolibError(f"--speaker-norm needs at least {MIN_NORM_UNITS} recordings (or windows of long ones) of the "
                          f"speaker in one call for its statistics, got {units.sum()}; give more files, or leave it out")
    feats = model.features(pieces, jobs=jobs)
    if model.speaker_norm:  # one speaker: the statistics of the file units only
        feats = {s: speaker_standardize(X, np.zeros(len(X)), fit=units) for s, X in feats.items()}
    proba = model.proba(feats)
    cal = model.info.get("calibration")
    distance = model.distance(feats) if cal else np.full(len(pieces), np.nan)

    def pred(name, p, start=0.0, end=0.0, **more):
        return Prediction(name, CLASSES[int(np.argmax(p))], dict(zip(CLASSES, map(float, p))), start, end, **more)

    owner, whole = np.array([f for f, _, _ in where]), np.array(whole)
    files, wins = [], []
    for i, y in enumerate(waves):
        full = np.flatnonzero((owner == i) & whole)
        parts = np.flatnonzero((owner == i) & ~whole)
        mine = full if len(full) else parts
        values = quality.measure(y)
        said = quality.warnings(values, cal["quality"]) if cal else []
        far = float(distance[mine].max())
        if cal and far > 1:
            said.append(f"its features lie {far:.1f}x as far from the nearest training recordings as 95 % of a new "
                        "EmoDB speaker's recordings do: the answer is drawn towards even odds accordingly")
        files.append(pred(names[i], proba[mine[0]] if len(full) else proba[parts].mean(axis=0), 0.0,
                          len(y) / SAMPLE_RATE, quality=values, warnings=said, distance=far if cal else None))
        wins += [pred(names[i], proba[j], where[j][1] / SAMPLE_RATE, where[j][2] / SAMPLE_RATE) for j in parts]
    return files, wins


def predict_files(model: FinalModel, paths: Sequence[str | os.PathLike], per_window: bool = False,
                  jobs: int = 1) -> tuple[list[Prediction], list[Prediction]]:
    """:func:`predict_waves` of files (checked first by :func:`read`)."""
    waves = read(paths)
    return predict_waves(model, waves, [str(p) for p in paths], per_window, jobs)


def quality_lines(preds: Sequence[Prediction]) -> str:
    """One line per file: its quality measures, then what makes it unlike the training recordings (or that
    nothing does), and an unsure answer said as such."""
    lines = []
    for p in preds:
        if not p.quality:
            continue
        q = p.quality
        head = (f"{Path(p.file).name}: {q['duration_s']:.1f} s, speech {100 * q['speech_fraction']:.0f} %, "
                f"SNR {q['snr_db']:.0f} dB, bandwidth {q['bandwidth_hz'] / 1000:.1f} kHz, "
                f"clipped {100 * q['clipped_fraction']:.1f} %")
        said = "; ".join(p.warnings) if p.warnings else "like the training recordings"
        lines.append(f"{head} — {said}" + (f" — UNSURE: {p.emotion} at {100 * p.probabilities[p.emotion]:.0f} %"
                                           if p.unsure else ""))
    return "\n".join(lines)


def table(preds: Sequence[Prediction], windows: bool = False) -> str:
    """A fixed-width table: file (and window), predicted emotion (``?`` after it when the answer is unsure),
    the seven calibrated probabilities in %.  Files are shown by name, or by their path where two names are
    the same."""
    names = {p.file: Path(p.file).name for p in preds}
    if len(set(names.values())) < len(names):
        names = {f: f for f in names}
    name_w = max([len("file")] + [len(n) for n in names.values()])
    head = f"{'file':<{name_w}}" + ("  window (s)  " if windows else "  ") + f"{'emotion':<10}" + "".join(
        f"{c:>10}" for c in CLASSES)
    lines = [head]
    for p in preds:
        span = f"{p.start:5.1f}-{p.end:5.1f}  " if windows else ""
        lines.append(f"{names[p.file]:<{name_w}}  {span}{p.emotion + ('?' if p.unsure else ''):<10}"
                     + "".join(f"{100 * p.probabilities[c]:10.1f}" for c in CLASSES))
    return "\n".join(lines)

"""The report's segment-level pipeline: its 173 hand-crafted descriptors, cut into segments
of 128 / 256 / 512 / 1024 ms or the whole utterance, classified by its Conv1D
(:mod:`emolib.cnn`) under two protocols:

- the report's **random 80/20 split over segments** (leaky: segments of one utterance and of
  one speaker land on both sides), scored per segment as the report did;
- **SI-5** (docs/protocol.md), where each utterance's decision averages the logits of its segments,
  scored per utterance with UAR and WA.

Descriptors (``ReportDescriptors``): per frame (2048-point FFT, 16 ms hop), 20 MFCC, 128
log-mel bands (dB), 12 chroma (STFT), 7 spectral-contrast bands and 6 tonnetz values (from
the harmonic part); a segment's vector is the mean of its frames, 20 + 128 + 12 + 7 + 6 =
173 values.  The report computed them on each cut-out segment; we compute the frames once
per utterance (cached) and average them per segment, which differs only at segment edges
and makes the whole study affordable on a laptop CPU.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from . import cnn, settings, steps
from .emodb import CLASSES
from .features import extract, frontend_key, speaker_standardize
from .splits import PROTOCOL_NAMES, folds, leaky_random_split

#: Segment lengths of the report's Table 3, in ms; None is the whole utterance.
SEGMENT_LENGTHS = (128, 256, 512, 1024, None)
#: The seed of the report's random 80/20 segment split (:func:`leaky`), recorded in its rows.
SPLIT_SEED = 0


def budget(profile: str | None = None) -> cnn.TrainConfig:
    """The Conv1D budget of the segment study (:data:`emolib.settings.CONV1D`)."""
    return cnn.TrainConfig(**settings.budget(settings.CONV1D, profile))


def report_budget(profile: str | None = None) -> cnn.TrainConfig:
    """The report's kind of training, full passes (:data:`emolib.settings.CONV1D_REPORT`)."""
    return cnn.TrainConfig(**settings.budget(settings.CONV1D_REPORT, profile))


def segment_label(seg_ms: int | None) -> str:
    return "whole" if seg_ms is None else f"{seg_ms}ms"


@dataclass(frozen=True)
class ReportDescriptors:
    """The report's 173 descriptors per frame: a front-end for :mod:`emolib.features`."""

    sample_rate: int = 16_000
    n_fft: int = 2048
    hop_length: int = 256
    n_mfcc: int = 20
    n_mels: int = 128

    @property
    def n_rows(self) -> int:
        return self.n_mfcc + self.n_mels + 12 + 7 + 6

    def key(self) -> str:
        return frontend_key(self)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        import librosa

        sr, hop = self.sample_rate, self.hop_length
        mag = np.abs(librosa.stft(y, n_fft=self.n_fft, hop_length=hop))
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=mag ** 2, sr=sr,
                                                                    n_mels=self.n_mels))
        with warnings.catch_warnings():  # CQT octaves of short utterances: harmless notices
            warnings.simplefilter("ignore", UserWarning)
            tonnetz = librosa.feature.tonnetz(y=librosa.effects.harmonic(y), sr=sr, hop_length=hop)
        rows = [librosa.feature.mfcc(S=mel_db, n_mfcc=self.n_mfcc), mel_db,
                librosa.feature.chroma_stft(S=mag, sr=sr),
                librosa.feature.spectral_contrast(S=mag, sr=sr), tonnetz]
        frames = min(r.shape[1] for r in rows)
        return np.concatenate([r[:, :frames] for r in rows]).astype(np.float32)

    def frames(self, seg_ms: int) -> int:
        return max(1, round(seg_ms / 1000 * self.sample_rate / self.hop_length))


def descriptors(meta: pd.DataFrame, progress: bool = True) -> list[np.ndarray]:
    """Frame-level descriptors (173 x frames) of every utterance, cached on disk."""
    return extract(meta.path, ReportDescriptors(), progress=progress)


def segment_means(frames: list[np.ndarray], seg_ms: int | None,
                  frontend: ReportDescriptors = ReportDescriptors(),
                  hop_ms: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut each utterance into segments of ``seg_ms`` starting every ``hop_ms`` (default
    ``seg_ms``: non-overlapping; e.g. ``seg_ms // 2`` for 50 % overlap), drop the tail shorter
    than a segment (an utterance shorter than one segment is one segment) and average the
    frames of each.  Returns (X: segments x 173, utterance index of each segment)."""
    if hop_ms is not None and (seg_ms is None or not 0 < hop_ms <= seg_ms):
        raise ValueError(f"hop_ms must lie in 1..seg_ms ({seg_ms}) for segments of a fixed "
                         f"length, got {hop_ms}; leave it None for non-overlapping segments")
    seg = None if seg_ms is None else frontend.frames(seg_ms)
    step = None if hop_ms is None else frontend.frames(hop_ms)
    xs, owner = [], []
    for i, f in enumerate(frames):
        k = f.shape[1] if seg is None else min(seg, f.shape[1])
        hop = k if step is None or k < seg else step
        if hop == k:
            n = f.shape[1] // k
            xs.append(f[:, : n * k].reshape(f.shape[0], n, k).mean(axis=2).T)
        else:  # overlapping windows, every hop frames
            windows = np.lib.stride_tricks.sliding_window_view(f, k, axis=1)[:, ::hop]
            n = windows.shape[1]
            xs.append(windows.mean(axis=2).T)
        owner.append(np.full(n, i))
    return np.concatenate(xs).astype(np.float32), np.concatenate(owner)


def _labels(meta: pd.DataFrame) -> np.ndarray:
    """Class index (into emodb.CLASSES) of each utterance."""
    return np.array([CLASSES.index(e) for e in meta.emotion.astype(str)], dtype=np.int64)


def si5(frames: list[np.ndarray], meta: pd.DataFrame, seg_ms: int | None, budget: cnn.TrainConfig,
        monitor_fold: int = 0, monitor_size: int = 512, progress: bool = True,
        speaker_norm: bool = False, protocol: str = "si5") -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """SI-5 (or another ``protocol`` of :func:`emolib.splits.folds`, e.g. ``emobox``) with
    utterance decisions from averaged segment logits.

    Returns the utterance-level predictions (evaluation.PREDICTION_COLUMNS), the training
    history of fold ``monitor_fold``, whose monitor loss is measured after every epoch on
    (at most ``monitor_size``) segments of its held-out speakers (for the learning-curve
    plot only, never for any training decision), and the accuracy of the individual segment
    decisions, comparable with the per-segment score of :func:`leaky`.

    ``speaker_norm``: each speaker's segment vectors are z-scored with that speaker's own
    (unlabelled) statistics first (docs/protocol.md: reported as its own row)."""
    X, owner = segment_means(frames, seg_ms)
    if speaker_norm:
        X = speaker_standardize(X, meta.speaker.astype(str).to_numpy()[owner]).astype(np.float32)
    y_utt = _labels(meta)
    y = y_utt[owner]
    parts, history, correct = [], None, 0
    for fold in folds(meta, protocol):
        train, test = np.isin(owner, fold.train), np.isin(owner, fold.test)
        monitor = (None, None)
        if fold.index == monitor_fold:
            rows = np.flatnonzero(test)
            rows = np.sort(np.random.default_rng(budget.seed).permutation(rows)[:monitor_size])
            monitor = (X[rows], y[rows])
        t0 = time.perf_counter()
        model, hist = cnn.train(X[train], y[train], budget, *monitor, progress=progress)
        steps.step(f"Conv1D, {segment_label(seg_ms)}, {PROTOCOL_NAMES[protocol]} fold {fold.index}"
                   + (", speaker-normalised" if speaker_norm else ""), time.perf_counter() - t0)
        if fold.index == monitor_fold:
            history = hist
        seg_logits = cnn.predict_logits(model, X[test])
        correct += int((seg_logits.argmax(axis=1) == y[test]).sum())
        logits = pd.DataFrame(seg_logits).groupby(owner[test]).mean()
        utt = logits.index.to_numpy()
        parts.append(pd.DataFrame({
            "file": meta.file.to_numpy()[utt], "speaker": meta.speaker.to_numpy()[utt],
            "fold": fold.index, "y_true": [CLASSES[c] for c in y_utt[utt]],
            "y_pred": [CLASSES[c] for c in logits.to_numpy().argmax(axis=1)]}))
    return pd.concat(parts, ignore_index=True), history, correct / len(X)


def leaky(frames: list[np.ndarray], meta: pd.DataFrame, seg_ms: int | None,
          budget: cnn.TrainConfig, seed: int = SPLIT_SEED, progress: bool = True,
          hop_ms: int | None = None) -> pd.DataFrame:
    """The report's protocol: a random 80/20 split over segments, scored per segment.
    NOT speaker-independent; kept only to show how much the leakage inflates accuracy.
    ``hop_ms`` < ``seg_ms`` cuts overlapping segments (:func:`segment_means`), so that
    neighbours sharing frames can land on both sides: more leakage still."""
    X, owner = segment_means(frames, seg_ms, hop_ms=hop_ms)
    y = _labels(meta)[owner]
    train, test = leaky_random_split(len(X), test_size=0.2, seed=seed, stratify=y)
    model, _ = cnn.train(X[train], y[train], budget, progress=progress)
    pred = cnn.predict_logits(model, X[test]).argmax(axis=1)
    return pd.DataFrame({"file": meta.file.to_numpy()[owner[test]],
                         "speaker": meta.speaker.to_numpy()[owner[test]], "fold": 0,
                         "y_true": [CLASSES[c] for c in y[test]],
                         "y_pred": [CLASSES[c] for c in pred], "segment": test})


def study(frames: list[np.ndarray], meta: pd.DataFrame, profile: str | None = None,
          log=print) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Notebook 05's segment study at the profile's budget (:func:`budget`): for every segment
    length, the Conv1D on the report's leaky split (row ``cnn_leaky_<len>``), under SI-5
    (``cnn_si5_<len>``) and under SI-5 with speaker normalisation (``cnn_si5_<len>_spknorm``); every
    row records its training budget and seed.  One line per length through ``log``.

    Returns one line per row (segment, protocol, uar, wa, segment_wa), the SI-5 predictions by
    ``<len>`` / ``<len>_spknorm``, and the training history of SI-5 fold 0 by ``<len>``."""
    from . import config
    from .evaluation import Timer
    from .results import LEAKY, write_result

    corpus, train = meta.attrs.get("corpus", "emodb"), budget(profile)
    lines, preds, histories = [], {}, {}

    def write(run, pred, protocol, norm, seconds, label, what, split=None, **extra):
        return write_result(run, pred, method=f"Conv1D on {what}", protocol=protocol, profile=config.level(profile),
                            corpus=corpus, speaker_norm=norm, wall_s=seconds, segment=label, seed=train.seed,
                            config={"budget": asdict(train), **(split or {})}, **extra)

    for seg in SEGMENT_LENGTHS:
        label = segment_label(seg)
        what = "whole utterances" if seg is None else f"{seg} ms segments"
        with Timer() as t:
            pred = leaky(frames, meta, seg, train, seed=SPLIT_SEED, progress=False)
        row = write(f"cnn_leaky_{label}", pred, LEAKY, False, t.seconds, label, what, split={"split_seed": SPLIT_SEED})
        lines.append({"segment": label, "protocol": "random split (leaky)", "uar": row["uar"], "wa": row["wa"],
                      "segment_wa": row["wa"]})
        for norm in (False, True):
            key = label + ("_spknorm" if norm else "")
            with Timer() as t:
                preds[key], history, segment_wa = si5(frames, meta, seg, train, speaker_norm=norm, progress=False)
            if not norm:
                histories[label] = history
            row = write(f"cnn_si5_{key}", preds[key], "SI-5", norm, t.seconds, label, what, segment_wa=segment_wa)
            lines.append({"segment": label, "protocol": "SI-5" + (", speaker-normalised" if norm else ""),
                          "uar": row["uar"], "wa": row["wa"], "segment_wa": segment_wa})
        log(f"{label}: leaky segment accuracy {lines[-3]['segment_wa']:.3f}, SI-5 UAR {lines[-2]['uar']:.3f}, "
            f"speaker-normalised SI-5 UAR {lines[-1]['uar']:.3f}")
    return pd.DataFrame(lines), preds, histories


def _cuts() -> list[tuple[int | None, int | None]]:
    """(segment length, hop) of the report-budget study: every length cut end to end, then
    128-1024 ms cut every half length (whole utterances have no overlapping version)."""
    return ([(seg, None) for seg in SEGMENT_LENGTHS]
            + [(seg, seg // 2) for seg in SEGMENT_LENGTHS if seg is not None])


def report_study_run(seg_ms: int | None, hop_ms: int | None) -> str:
    """The row name of one training of :func:`report_study`."""
    return f"cnn_leaky_{segment_label(seg_ms)}_" + ("report_budget" if hop_ms is None else "overlap50")


def report_study(frames: list[np.ndarray] | None, meta: pd.DataFrame, profile: str | None = None,
                 log=print) -> pd.DataFrame:
    """The report's Table 3 retrained with its kind of training (:func:`report_budget`) on its
    leaky split: every segment length cut end to end, and 128-1024 ms cut every half length
    (rows ``cnn_leaky_<len>_report_budget`` / ``cnn_leaky_<len>_overlap50``).

    A long study (:data:`emolib.settings.LONG_STUDIES`): the ``smoke`` and ``extended`` profiles
    train and write the rows (one line per training); ``full`` reads the committed rows, and a
    missing one is a one-line error naming the command that makes it.  Returns one line per
    training: segment, protocol (the Table-3 column it fills), uar, wa, segment_wa."""
    from . import config
    from .errors import EmolibError
    from .evaluation import Timer
    from .results import LEAKY, read_rows, write_result

    corpus = meta.attrs.get("corpus", "emodb")
    folder = config.run_dir(config.RESULTS, corpus, profile)
    budget = report_budget(profile)
    full_passes = f"random split (leaky), {budget.describe()}"
    rerun = settings.runs("report_budget", profile)
    stored = {}
    if not rerun:  # every committed row is checked before anything is used
        runs = [report_study_run(s, h) for s, h in _cuts()]
        try:
            stored = dict(zip(runs, read_rows(runs, folder)))
        except EmolibError as e:
            raise EmolibError(f"{e}: the long study runs in the extended profile "
                              "(python -m emolib reproduce --only 05 --profile extended)") from None
    lines = []
    for seg, hop in _cuts():
        run, label = report_study_run(seg, hop), segment_label(seg)
        what = ("whole utterances" if seg is None else f"{seg} ms segments") + ("" if hop is None else f" every {hop} ms")
        if rerun:
            with Timer() as t:
                pred = leaky(frames, meta, seg, budget, seed=SPLIT_SEED, hop_ms=hop, progress=False)
            row = write_result(run, pred, method=f"Conv1D on {what}, {budget.describe()}", protocol=LEAKY,
                               profile=config.level(profile), corpus=corpus, speaker_norm=False, wall_s=t.seconds,
                               segment=label, seed=budget.seed, config={"budget": asdict(budget), "split_seed": SPLIT_SEED},
                               **({} if hop is None else {"hop_ms": hop}))
            log(f"{run}: {what}, {row['n']} test segments, segment accuracy {row['wa']:.3f} ({t.seconds:.0f} s)")
        else:
            row = stored[run]
        lines.append({"segment": label, "protocol": full_passes + ("" if hop is None else ", segments every half length"),
                      "uar": row["uar"], "wa": row["wa"], "segment_wa": row["wa"]})
    if not rerun:
        log(f"read {len(lines)} committed rows of the extended profile's report-budget study "
            f"({config.repo_relative(folder)}/cnn_leaky_*_report_budget|overlap50.json)")
    return pd.DataFrame(lines)

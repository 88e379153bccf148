"""The report's segment-level pipeline: its 173 hand-crafted descriptors, cut into segments
of 128 / 256 / 512 / 1024 ms or the whole utterance, classified by its Conv1D
(:mod:`emolib.models.cnn`) under two protocols:

- the report's **random 80/20 split over segments** (leaky: segments of one utterance and of
  one speaker land on both sides), scored per segment as the report did;
- **SI-5** (docs/protocol.md), where each utterance's decision averages the logits of its segments,
  scored per utterance with UAR and WA.

The descriptors and their segment means are :mod:`emolib.data.descriptors`'s; the Conv1D and its
budgets (:func:`emolib.models.cnn.budget`, :func:`emolib.models.cnn.report_budget`) are
:mod:`emolib.models.cnn`'s.
"""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import pandas as pd

from ..core import budgets, steps
from ..data.descriptors import segment_means
from ..data.emodb import CLASSES
from ..data.features import speaker_standardize
from ..data.splits import PROTOCOL_NAMES, folds, leaky_random_split
from ..evaluation.metrics import with_probabilities
from ..evaluation.runs import cnn_stem, named, segment_label
from ..models import cnn

#: Segment lengths of the report's Table 3, in ms; None is the whole utterance.
SEGMENT_LENGTHS = (128, 256, 512, 1024, None)
#: The seed of the report's random 80/20 segment split (:func:`leaky`), recorded in its rows.
SPLIT_SEED = 0


def _labels(meta: pd.DataFrame) -> np.ndarray:
    """Class index (into emodb.CLASSES) of each utterance."""
    return np.array([CLASSES.index(e) for e in meta.emotion.astype(str)], dtype=np.int64)


def si5(frames: list[np.ndarray], meta: pd.DataFrame, seg_ms: int | None, budget: cnn.TrainConfig,
        monitor_fold: int = 0, monitor_size: int = 512, progress: bool = True,
        speaker_norm: bool = False, protocol: str = "si5") -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """SI-5 (or another ``protocol`` of :func:`emolib.data.splits.folds`, e.g. ``emobox``) with
    utterance decisions from averaged segment logits.

    Returns the utterance-level predictions (evaluation.PREDICTION_COLUMNS), the training
    history of fold ``monitor_fold``, whose monitor loss is measured after every epoch on
    (at most ``monitor_size``) segments of its held-out speakers (for the learning-curve
    plot only, never for any training decision), and the accuracy of the individual segment
    decisions, comparable with the per-segment score of :func:`leaky`.

    ``speaker_norm``: each speaker's segment vectors are z-scored with that speaker's own
    (unlabelled) statistics first (docs/protocol.md: reported as its own row).

    The predictions carry each utterance's class probabilities (the softmax of its segments' mean logits).
    The Conv1D's calibration is measured where its inner out-of-fold probabilities exist already, in the
    fusion study's nested run (:func:`emolib.systems.fusion.run`, rows ``fusion_cnn[_spknorm]``)."""
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
        part = pd.DataFrame({
            "file": meta.file.to_numpy()[utt], "speaker": meta.speaker.to_numpy()[utt],
            "fold": fold.index, "y_true": [CLASSES[c] for c in y_utt[utt]],
            "y_pred": [CLASSES[c] for c in logits.to_numpy().argmax(axis=1)]})
        parts.append(with_probabilities(part, _softmax(logits.to_numpy())))
    return pd.concat(parts, ignore_index=True), history, correct / len(X)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


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
    logits = cnn.predict_logits(model, X[test])
    table = pd.DataFrame({"file": meta.file.to_numpy()[owner[test]],
                          "speaker": meta.speaker.to_numpy()[owner[test]], "fold": 0,
                          "y_true": [CLASSES[c] for c in y[test]],
                          "y_pred": [CLASSES[c] for c in logits.argmax(axis=1)], "segment": test})
    return with_probabilities(table, _softmax(logits))


def study(frames: list[np.ndarray], meta: pd.DataFrame, profile: str | None = None,
          log=print) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Notebook 05's segment study at the profile's budget (:func:`budget`): for every segment
    length, the Conv1D on the report's leaky split (row ``cnn_leaky_<len>``), under SI-5
    (``cnn_si5_<len>``) and under SI-5 with speaker normalisation (``cnn_si5_<len>_spknorm``); every
    row records its training budget and seed.  One line per length through ``log``.

    Returns one line per row (segment, protocol, uar, wa, segment_wa), the SI-5 predictions by
    ``<len>`` / ``<len>_spknorm``, and the training history of SI-5 fold 0 by ``<len>``."""
    from ..core import env
    from ..evaluation.metrics import Timer
    from ..evaluation.results import LEAKY, write_result

    corpus, train = meta.attrs.get("corpus", "emodb"), cnn.budget(profile)
    lines, preds, histories = [], {}, {}

    def write(run, pred, protocol, norm, seconds, label, what, split=None, **measured):
        return write_result(run, pred, method=f"Conv1D on {what}", protocol=protocol, profile=env.level(profile),
                            corpus=corpus, speaker_norm=norm, wall_s=seconds,
                            config={"budget": asdict(train), **(split or {}), "segment": label, "seed": train.seed},
                            **measured)

    for seg in SEGMENT_LENGTHS:
        label = segment_label(seg)
        what = "whole utterances" if seg is None else f"{seg} ms segments"
        with Timer() as t:
            pred = leaky(frames, meta, seg, train, seed=SPLIT_SEED, progress=False)
        row = write(cnn_stem(seg, "leaky"), pred, LEAKY, False, t.seconds, label, what, split={"split_seed": SPLIT_SEED})
        lines.append({"segment": label, "protocol": "random split (leaky)", "uar": row["uar"], "wa": row["wa"],
                      "segment_wa": row["wa"]})
        for norm in (False, True):
            key = label + ("_spknorm" if norm else "")  # the predictions returned, by segment
            with Timer() as t:
                preds[key], history, segment_wa = si5(frames, meta, seg, train, speaker_norm=norm, progress=False)
            if not norm:
                histories[label] = history
            row = write(named(cnn_stem(seg), speaker_norm=norm), preds[key], "SI-5", norm, t.seconds, label, what,
                        segment_wa=segment_wa)
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
    return cnn_stem(seg_ms, "leaky", "report_budget" if hop_ms is None else "overlap50")


def report_study(frames: list[np.ndarray] | None, meta: pd.DataFrame, profile: str | None = None,
                 log=print) -> pd.DataFrame:
    """The report's Table 3 retrained with its kind of training (:func:`report_budget`) on its
    leaky split: every segment length cut end to end, and 128-1024 ms cut every half length
    (rows ``cnn_leaky_<len>_report_budget`` / ``cnn_leaky_<len>_overlap50``).

    A long study (:data:`emolib.core.budgets.LONG_STUDIES`): the ``smoke`` and ``extended`` profiles
    train and write the rows (one line per training); ``full`` reads the committed rows, and a
    missing one is a one-line error naming the command that makes it.  Returns one line per
    training: segment, protocol (the Table-3 column it fills), uar, wa, segment_wa."""
    from ..core import env
    from ..core.errors import EmolibError
    from ..evaluation.metrics import Timer
    from ..evaluation.results import LEAKY, read_rows, write_result

    corpus = meta.attrs.get("corpus", "emodb")
    folder = env.run_dir(env.RESULTS, corpus, profile)
    budget = cnn.report_budget(profile)
    full_passes = f"random split (leaky), {budget.describe()}"
    rerun = budgets.runs("report_budget", profile)
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
                               profile=env.level(profile), corpus=corpus, speaker_norm=False, wall_s=t.seconds,
                               config={"budget": asdict(budget), "split_seed": SPLIT_SEED, "segment": label,
                                       "seed": budget.seed, **({} if hop is None else {"hop_ms": hop})})
            log(f"{run}: {what}, {row['n']} test segments, segment accuracy {row['wa']:.3f} ({t.seconds:.0f} s)")
        else:
            row = stored[run]
        lines.append({"segment": label, "protocol": full_passes + ("" if hop is None else ", segments every half length"),
                      "uar": row["uar"], "wa": row["wa"], "segment_wa": row["wa"]})
    if not rerun:
        log(f"read {len(lines)} committed rows of the extended profile's report-budget study "
            f"({env.repo_relative(folder)}/cnn_leaky_*_report_budget|overlap50.json)")
    return pd.DataFrame(lines)

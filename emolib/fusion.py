"""The best system: late fusion of the repository's systems by stacking, nested inside each fold.

Base systems (:data:`SYSTEMS`), each a table of utterance features and a classifier that gives
class probabilities, exactly as its single-system row is made:

- ``compare`` / ``egemaps``: openSMILE functionals + logistic regression (:mod:`emolib.baselines`);
- ``moco``: the class token of each fold's MoCo v3 encoder + notebook 04's logistic-regression probe
  (its ``C`` chosen inside the training speakers);
- ``cnn``: the report's Conv1D on whole-utterance descriptor means (:mod:`emolib.segments`, notebook 05's
  budget).

Stacking, for each outer fold *k* of the protocol (SI-5 by default):

1. the *inner* folds are the protocol's other folds, restricted to fold *k*'s training rows (SI-5:
   the four other speaker pairs, so each base system is fitted on 6 speakers and predicts 2);
2. each base system's inner predictions give out-of-fold class probabilities for every training row
   of fold *k*;
3. the stacker, a multinomial logistic regression on the log-probabilities of all base systems
   (balanced class weights, ``C`` chosen by leave-speakers-out cross-validation over these same rows),
   is fitted on them;
4. each base system is refitted on all of fold *k*'s training rows, predicts fold *k*'s test rows,
   and the stacker combines those probabilities.

No test row of fold *k* takes part in steps 1-3: its features, labels and base predictions never reach
the stacker's training data (``tests/test_fusion.py`` poisons them to check).  The base systems'
probabilities are computed once per system (:func:`base_probabilities`) and any subset is stacked from
them (:func:`stack`), so the rows of all systems and of each leave-one-out subset cost one nested run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from . import baselines, cnn, config, evaluation, results, segments
from .emodb import CLASSES
from .errors import EmolibError
from .features import speaker_standardize
from .pretrain_config import default_out
from .splits import PROTOCOL_NAMES, folds

SYSTEMS = ("compare", "egemaps", "moco", "cnn")
NAMES = {"compare": "ComParE_2016 + logistic regression", "egemaps": "eGeMAPSv02 + logistic regression",
         "moco": "MoCo v3 probe", "cnn": "Conv1D, whole utterances"}
#: The stacker's inverse regularisation: chosen per outer fold from this grid by leave-speakers-out
#: cross-validation over the inner out-of-fold rows (its training speakers only).
STACKER_C = (0.001, 0.01, 0.1, 1.0)
EPS = 1e-6


def check_systems(names: Sequence[str]) -> list[str]:
    bad = [n for n in names if n not in SYSTEMS]
    if bad or len(set(names)) < 2:
        raise EmolibError(f"--systems {' '.join(names)}: choose two or more of {', '.join(SYSTEMS)}")
    return list(names)


def _aligned(proba: np.ndarray, classes) -> np.ndarray:
    """Columns in :data:`CLASSES` order (a class absent from the training rows gets probability 0)."""
    out = np.zeros((len(proba), len(CLASSES)))
    for j, c in enumerate(classes):
        out[:, CLASSES.index(c)] = proba[:, j]
    return out


# --- base systems: fit on some rows, class probabilities for others -----------------------------

@dataclass(frozen=True)
class Classifier:
    """A base system's classifier in two steps, ``fit(X, y, groups) -> model`` and
    ``proba(model, X) -> class probabilities`` (columns in :data:`CLASSES` order), so a fitted model can
    be kept (:mod:`emolib.final`); calling it fits and predicts in one go (``fit_proba``)."""

    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], object]
    proba: Callable[[object, np.ndarray], np.ndarray]

    def __call__(self, X, y, groups, X_test) -> np.ndarray:
        return self.proba(self.fit(X, y, groups), X_test)


FitProba = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _sklearn_proba(model, X) -> np.ndarray:
    return _aligned(model.predict_proba(X), model.classes_)


def logreg_proba(feature_set: str) -> Classifier:
    """The openSMILE baselines' logistic regression (fixed C)."""
    return Classifier(lambda X, y, groups: baselines.logistic_regression(feature_set=feature_set).fit(X, y),
                      _sklearn_proba)


def probe_proba(C: Sequence[float] = (0.01, 0.1, 1.0), seed: int = 0) -> Classifier:
    """Notebook 04's probe (:func:`emolib.probes.logreg_model`, ``C`` chosen by leave-speakers-out
    cross-validation inside the training rows)."""
    from .probes import logreg_model

    def fit(X, y, groups):
        return evaluation.fit_by_speakers(logreg_model(seed), "logisticregression__C", C, X, y, groups)
    return Classifier(fit, _sklearn_proba)


def _cnn_proba(model, X) -> np.ndarray:
    import torch

    return torch.softmax(torch.from_numpy(cnn.predict_logits(model, X)), dim=1).double().numpy()


def cnn_proba(budget: cnn.TrainConfig) -> Classifier:
    """The report's Conv1D (one row per utterance): softmax of its logits."""
    def fit(X, y, groups):
        return cnn.train(X, np.array([CLASSES.index(c) for c in y]), budget, progress=False)[0]
    return Classifier(fit, _cnn_proba)


@dataclass
class Base:
    """A base system: utterance features for each outer fold (one array for all folds, or a dict
    {fold: array} where an encoder was pretrained per fold) and its ``fit_proba``."""

    name: str
    features: np.ndarray | dict[int, np.ndarray]
    fit_proba: Classifier | FitProba

    def X(self, k: int) -> np.ndarray:
        return self.features[k] if isinstance(self.features, dict) else self.features


#: The openSMILE feature set of each functionals system (:data:`emolib.baselines.FEATURE_SETS`, inverted).
FEATURE_SET = {short: fs for fs, short in baselines.FEATURE_SETS.items()}


def classifier(system: str, profile: str | None = None) -> Classifier:
    """A system's classifier, as its single-system row fits it (``profile``'s budgets)."""
    if system in FEATURE_SET:
        return logreg_proba(FEATURE_SET[system])
    if system == "moco":
        from .probes import budget

        return probe_proba(budget(profile)["logreg_C"])
    if system == "cnn":
        return cnn_proba(segments.budget(profile))
    raise ValueError(f"unknown system {system!r}; choose one of {', '.join(SYSTEMS)}")


def make_bases(meta: pd.DataFrame, systems: Sequence[str], protocol: str = "si5", encoders=None,
               profile: str | None = None, progress: bool = False) -> list[Base]:
    """The base systems' features and classifiers (``systems`` checked by :func:`check_systems`
    first).  ``encoders``: the MoCo fold encoders' folder (default: the report's recipe's,
    ``checkpoints/`` or ``checkpoints/<protocol>``; not per-speaker-input encoders), which must have
    been pretrained on ``protocol``'s folds."""
    check_systems(systems)
    out = []
    for name in systems:
        if name == "moco":
            from .encoders import encoder_summary, fold_embeddings, require

            enc = encoders or default_out(meta.attrs.get("corpus"), profile, protocol)
            require(encoder_summary(enc), enc, protocol, raw=True)  # raw fusions too: no per-speaker inputs
            features = fold_embeddings(meta, enc, progress=progress)
        else:
            features = corpus_features(meta, name, progress)
        out.append(Base(name, features, classifier(name, profile)))
    return out


def frontend(system: str):
    """The front-end (:class:`emolib.features.Frontend`) of a system without an encoder: openSMILE
    functionals, or the Conv1D's frame descriptors."""
    if system in FEATURE_SET:
        return baselines.OpenSmileFunctionals(FEATURE_SET[system])
    if system == "cnn":
        return segments.ReportDescriptors()
    raise ValueError(f"{system!r} has no corpus-wide features (the MoCo encoder is per fold)")


def corpus_features(meta: pd.DataFrame, system: str, progress: bool = False) -> np.ndarray:
    """The utterance features of a system without an encoder (``compare``, ``egemaps``, ``cnn``) for
    every row of ``meta`` (cached): openSMILE functionals, or the Conv1D's descriptor means over the
    whole utterance."""
    if system in FEATURE_SET:
        return baselines.functionals(meta, FEATURE_SET[system], progress=progress)
    if system == "cnn":
        return segments.segment_means(segments.descriptors(meta, progress=progress), None)[0]
    raise ValueError(f"{system!r} has no corpus-wide features (the MoCo encoder is per fold)")


def waveform_features(system: str, y: np.ndarray) -> np.ndarray:
    """What :func:`corpus_features` gives for one utterance, computed from its waveform (16 kHz mono):
    the functionals, or the mean descriptor over all frames; for ``moco`` its log-mel (the encoder is
    applied by the caller)."""
    if system == "moco":
        from .features import log_mel

        return log_mel(y)
    out = frontend(system)(y)
    return out[:, 0] if system in FEATURE_SET else out.mean(axis=1)


def normalised(bases: Sequence[Base], meta: pd.DataFrame, speaker_norm: bool) -> list[Base]:
    """The bases with every feature table speaker-normalised (each speaker's own statistics) when
    ``speaker_norm``, else as float64 tables."""
    speakers = meta.speaker.astype(str).to_numpy()
    norm = (lambda X: speaker_standardize(X, speakers)) if speaker_norm else (lambda X: np.asarray(X, float))
    return [Base(b.name, {k: norm(v) for k, v in b.features.items()} if isinstance(b.features, dict)
                 else norm(b.features), b.fit_proba) for b in bases]


# --- nesting --------------------------------------------------------------------------------------

def base_probabilities(meta: pd.DataFrame, base: Base, protocol: str = "si5",
                       log: Callable[[str], None] | None = None) -> dict[int, dict]:
    """For each outer fold k: ``inner`` (out-of-fold class probabilities of fold k's training rows,
    from the inner folds) and ``test`` (probabilities of fold k's test rows from a fit on all its
    training rows), with the row indices ``train`` and ``test``."""
    y = meta.emotion.astype(str).to_numpy()
    groups = meta.speaker.astype(str).to_numpy()
    outer = folds(meta, protocol)
    fold_of = np.empty(len(meta), int)
    for f in outer:
        fold_of[f.test] = f.index
    result = {}
    for f in outer:
        X = base.X(f.index)
        inner = np.zeros((len(f.train), len(CLASSES)))
        for j in sorted(set(fold_of[f.train])):  # the other folds, inside fold k's training rows
            held = fold_of[f.train] == j
            fit, pred = f.train[~held], f.train[held]
            inner[held] = base.fit_proba(X[fit], y[fit], groups[fit], X[pred])
        test = base.fit_proba(X[f.train], y[f.train], groups[f.train], X[f.test])
        result[f.index] = {"train": f.train, "test": f.test, "inner": inner, "test_proba": test}
        if log:
            log(f"{base.name}: fold {f.index} done")
    return result


def _stack_features(parts: Sequence[np.ndarray]) -> np.ndarray:
    return np.hstack([np.log(np.clip(p, EPS, 1.0)) for p in parts])


def stacker(inner: Sequence[np.ndarray], y_train: np.ndarray, groups: np.ndarray, seed: int = 0):
    """The stacker of one outer fold, fitted on the base systems' inner out-of-fold probabilities;
    its ``C`` (:data:`STACKER_C`) chosen by UAR in leave-speakers-out cross-validation over those same
    rows (``groups``: their speakers, :func:`emolib.evaluation.fit_by_speakers`), so the test
    speakers never choose it."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=5000, class_weight="balanced", random_state=seed)
    return evaluation.fit_by_speakers(model, "C", STACKER_C, _stack_features(inner), y_train, groups)


def stack(meta: pd.DataFrame, probs: dict[str, dict[int, dict]], systems: Sequence[str]) -> pd.DataFrame:
    """Out-of-fold predictions (``evaluation.PREDICTION_COLUMNS``) of the stack of ``systems``, from
    their :func:`base_probabilities`."""
    y = meta.emotion.astype(str).to_numpy()
    speakers = meta.speaker.astype(str).to_numpy()
    parts = []
    for k, first in sorted(probs[systems[0]].items()):
        model = stacker([probs[s][k]["inner"] for s in systems], y[first["train"]], speakers[first["train"]])
        pred = model.predict(_stack_features([probs[s][k]["test_proba"] for s in systems]))
        parts.append(evaluation.predictions(meta, first["test"], k, pred))
    return pd.concat(parts, ignore_index=True)


def single(meta: pd.DataFrame, probs: dict[int, dict]) -> pd.DataFrame:
    """Out-of-fold predictions of one base system alone (its arg-max), for comparison."""
    return pd.concat([evaluation.predictions(meta, p["test"], k, np.array(CLASSES)[p["test_proba"].argmax(axis=1)])
                      for k, p in sorted(probs.items())], ignore_index=True)


def run_name(systems: Sequence[str], speaker_norm: bool, protocol: str = "si5") -> str:
    """``fusion_<systems>[_spknorm][_<protocol>]``."""
    return ("fusion_" + "_".join(systems) + ("_spknorm" if speaker_norm else "")
            + ("" if protocol == "si5" else f"_{protocol}"))


def subsets(systems: Sequence[str]) -> list[tuple[str, ...]]:
    """All the systems, and each subset that leaves one out (when that still fuses two or more)."""
    full = tuple(systems)
    return [full] + ([tuple(s for s in full if s != left) for left in full] if len(full) > 2 else [])


def run(meta: pd.DataFrame, systems: Sequence[str] = SYSTEMS, protocol: str = "si5", encoders=None,
        profile: str | None = None, corpus: str | None = None, progress: bool = True,
        log: Callable[[str], None] | None = print) -> list[dict]:
    """The fusion study: for speaker normalisation off and on, the base probabilities of
    ``systems`` (one nested run each), then a results row for the fusion of all of them and of each
    leave-one-out subset (``fusion_<systems>[_spknorm]``, ``_<protocol>`` appended off SI-5).  Each row
    records its systems, the stacker and every base system's own UAR from the same nested run."""
    systems = check_systems(systems)
    profile, corpus = config.profile(profile), config.corpus_name(corpus)
    extra = {}
    if "moco" in systems:  # which fold encoders, by content
        from .encoders import encoder_summary

        encoders = encoders or default_out(corpus, profile, protocol)
        extra = {"encoders": config.repo_relative(encoders), "encoder": encoder_summary(encoders)}
    with evaluation.Timer() as t_features:
        raw = make_bases(meta, systems, protocol, encoders, profile, progress)
    rows = []
    for norm in (False, True):
        with evaluation.Timer() as t:
            probs = {b.name: base_probabilities(meta, b, protocol, log) for b in normalised(raw, meta, norm)}
        alone = {s: evaluation.summarize(single(meta, probs[s]))["uar"] for s in systems}
        for subset in subsets(systems):
            with evaluation.Timer() as ts:
                pred = stack(meta, probs, subset)
            rows.append(results.write_result(
                run_name(subset, norm, protocol), pred,
                method="stacked fusion of " + " + ".join(NAMES[s] for s in subset),
                protocol=PROTOCOL_NAMES[protocol], profile=profile, corpus=corpus, speaker_norm=norm,
                wall_s=t_features.seconds + t.seconds + ts.seconds, systems=list(subset), single_uar={s: alone[s] for s in subset},
                seed=0,  # stacker() and probe_proba() run with their default seed, 0
                stacker={"model": "logistic regression on log-probabilities", "C grid": list(STACKER_C),
                         "class_weight": "balanced", "inner_folds": "the protocol's other folds"},
                **({**extra} if "moco" in subset else {})))
            if log:
                log(f"{rows[-1]['run']}: UAR {100 * rows[-1]['uar']:.1f} % "
                    f"(alone: {', '.join(f'{s} {100 * alone[s]:.1f}' for s in subset)})")
    return rows


def summary(protocol: str = "si5", folder=None, profile: str | None = None, corpus: str | None = None) -> pd.DataFrame:
    """One line per fused subset from its rows: the systems, UAR / WA / macro-F1 without and with
    speaker normalisation (%), and the best single system of the subset in the same nested run."""
    folder = Path(folder) if folder else config.run_dir(config.RESULTS, corpus, profile)
    suffix = "" if protocol == "si5" else f"_{protocol}"
    lines = {}
    for path in sorted(folder.glob(f"fusion_*{suffix}.json")):
        row = json.loads(path.read_text())
        if row["protocol"] != PROTOCOL_NAMES[protocol]:
            continue
        key = " + ".join(row["systems"])
        col = "spk-norm" if row["speaker_norm"] else "raw"
        line = lines.setdefault(key, {"systems": key})
        line[f"UAR {col}"] = 100 * row["uar"]
        line[f"F1 {col}"] = 100 * row.get("f1", np.nan)
        best = max(row["single_uar"], key=row["single_uar"].get)
        line[f"best single {col}"] = f"{best} {100 * row['single_uar'][best]:.1f}"
    if not lines:
        raise EmolibError(f"no fusion rows for {PROTOCOL_NAMES[protocol]} in {config.repo_relative(folder)}; "
                          "run python -m emolib fusion")
    cols = ["systems", "UAR raw", "F1 raw", "best single raw", "UAR spk-norm", "F1 spk-norm", "best single spk-norm"]
    return pd.DataFrame(list(lines.values())).reindex(columns=cols).sort_values("UAR raw", ascending=False)


def markdown(table: pd.DataFrame) -> str:
    """:func:`summary` as a Markdown table (one decimal)."""
    lines = ["| " + " | ".join(table.columns) + " |", "|---|" + "---:|" * (len(table.columns) - 1)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines)

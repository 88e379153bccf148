"""The best system: late fusion of the repository's systems by stacking, nested inside each fold.

Base systems: any two or more of :mod:`emolib.systems.registry`'s (``compare`` / ``egemaps``: openSMILE
functionals + logistic regression; ``moco``: the class token of each fold's MoCo v3 encoder + notebook 04's
probe; ``cnn``: the report's Conv1D on whole-utterance descriptor means), each a table of utterance
features and a classifier that gives class probabilities, exactly as its single-system row is made.

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

from ..core import env
from ..core.errors import EmolibError
from ..data.emodb import CLASSES
from ..data.features import speaker_standardize
from ..data.splits import PROTOCOL_NAMES, fold_of, folds
from ..evaluation import metrics, results
from ..evaluation.calibration import fit_temperature, out_of_fold
from ..evaluation.calibration import summary as calibration_summary
from ..evaluation.runs import RunName, fusion_stem, named, nested_stem
from . import registry
from .classifiers import Classifier

#: The stacker's inverse regularisation: chosen per outer fold from this grid by leave-speakers-out
#: cross-validation over the inner out-of-fold rows (its training speakers only).
STACKER_C = (0.001, 0.01, 0.1, 1.0)
EPS = 1e-6

FitProba = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Base:
    """A base system: utterance features for each outer fold (one array for all folds, or a dict
    {fold: array} where an encoder was pretrained per fold) and its ``fit_proba``."""

    name: str
    features: np.ndarray | dict[int, np.ndarray]
    fit_proba: Classifier | FitProba

    def X(self, k: int) -> np.ndarray:
        return self.features[k] if isinstance(self.features, dict) else self.features


def make_bases(meta: pd.DataFrame, systems: Sequence[str], protocol: str = "si5", encoders=None,
               profile: str | None = None, progress: bool = False) -> list[Base]:
    """The base systems' features and classifiers (:mod:`emolib.systems.registry`).  ``encoders``: ``{system:
    folder}`` of a per-fold system's fold encoders, pretrained on ``protocol``'s folds (default, and for a system
    it leaves out: :meth:`emolib.systems.registry.System.encoders_folder`)."""
    registry.check(systems, at_least=2)
    encoders = encoders or {}
    return [Base(name, registry.get(name).corpus_features(meta, protocol=protocol, encoders=encoders.get(name), profile=profile,
                                                          progress=progress), registry.get(name).classifier(profile))
            for name in systems]


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
    rows_fold = fold_of(meta, protocol)
    result = {}
    for f in folds(meta, protocol):
        X = base.X(f.index)
        inner = out_of_fold(base.fit_proba, X, y, groups, rows_fold, f.train)  # over the other folds
        test = base.fit_proba(X[f.train], y[f.train], groups[f.train], X[f.test])
        result[f.index] = {"train": f.train, "test": f.test, "inner": inner, "test_proba": test,
                           "inner_fold": rows_fold[f.train]}
        if log:
            log(f"{base.name}: fold {f.index} done")
    return result


def stack_features(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The stacker's input: the base systems' log-probabilities side by side (clipped at :data:`EPS`)."""
    return np.hstack([np.log(np.clip(p, EPS, 1.0)) for p in parts])


def stacker(inner: Sequence[np.ndarray], y_train: np.ndarray, groups: np.ndarray, seed: int = 0):
    """The stacker of one outer fold, fitted on the base systems' inner out-of-fold probabilities;
    its ``C`` (:data:`STACKER_C`) chosen by UAR in leave-speakers-out cross-validation over those same
    rows (``groups``: their speakers, :func:`emolib.evaluation.metrics.fit_by_speakers`), so the test
    speakers never choose it."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=5000, class_weight="balanced", random_state=seed)
    return metrics.fit_by_speakers(model, "C", STACKER_C, stack_features(inner), y_train, groups)


def stacker_proba(model, parts: Sequence[np.ndarray]) -> np.ndarray:
    """A fitted :func:`stacker`'s class probabilities (:data:`CLASSES` order) from the base systems'
    probabilities ``parts`` (in the order it was fitted on)."""
    return metrics.in_class_order(model.predict_proba(stack_features(parts)), model.classes_)


def stack(meta: pd.DataFrame, probs: dict[str, dict[int, dict]], systems: Sequence[str],
          calibrate: bool = True) -> pd.DataFrame:
    """Out-of-fold predictions (``metrics.PREDICTION_COLUMNS``) of the stack of ``systems``, from their
    :func:`base_probabilities`, with the stacker's class probabilities (``p_<emotion>``) and, in
    ``pred.attrs["temperatures"]``, each fold's temperature: fitted on the stacker's out-of-fold probabilities
    of that fold's training rows (each inner fold predicted by a stacker fitted on the others' rows), so the
    test speakers never reach it (``calibrate=False``: all 1)."""
    y = meta.emotion.astype(str).to_numpy()
    speakers = meta.speaker.astype(str).to_numpy()
    parts, temperatures = [], []
    for k, first in sorted(probs[systems[0]].items()):
        train = first["train"]
        inner = [probs[s][k]["inner"] for s in systems]
        model = stacker(inner, y[train], speakers[train])
        test = [probs[s][k]["test_proba"] for s in systems]
        part = metrics.predictions(meta, first["test"], k, model.predict(stack_features(test)))
        parts.append(metrics.with_probabilities(part, stacker_proba(model, test)))
        if calibrate:  # the stacker's own out-of-fold probabilities inside the training rows
            fold_of = first["inner_fold"]
            oof = np.zeros((len(train), len(CLASSES)))
            for held in [fold_of == j for j in sorted(set(fold_of))]:
                m = stacker([p[~held] for p in inner], y[train][~held], speakers[train][~held])
                oof[held] = stacker_proba(m, [p[held] for p in inner])
            temperatures.append(fit_temperature(oof, y[train]))
        else:
            temperatures.append(1.0)
    pred = pd.concat(parts, ignore_index=True)
    pred.attrs["temperatures"] = temperatures
    return pred


def single(meta: pd.DataFrame, probs: dict[int, dict]) -> pd.DataFrame:
    """Out-of-fold predictions of one base system alone (its arg-max and probabilities), for comparison; in
    ``pred.attrs["temperatures"]`` each fold's temperature, fitted on its training rows' inner probabilities."""
    y = meta.emotion.astype(str).to_numpy()
    parts = [metrics.with_probabilities(
        metrics.predictions(meta, p["test"], k, np.array(CLASSES)[p["test_proba"].argmax(axis=1)]), p["test_proba"])
        for k, p in sorted(probs.items())]
    pred = pd.concat(parts, ignore_index=True)
    pred.attrs["temperatures"] = [fit_temperature(p["inner"], y[p["train"]]) for _, p in sorted(probs.items())]
    return pred


def run(meta: pd.DataFrame, systems: Sequence[str] | None = None, protocol: str = "si5", encoders=None,
        profile: str | None = None, corpus: str | None = None, progress: bool = True,
        log: Callable[[str], None] | None = print, leave_one_out: bool = True) -> list[dict]:
    """The fusion study: for speaker normalisation off and on, the base probabilities of ``systems``
    (default: every registered system; one nested run each), a row for each system alone in that nested run
    (``nested_<system>[_spknorm]``, calibrated on its inner probabilities), then a results row for the fusion
    of all of them and (``leave_one_out``) of each subset that leaves one out (``fusion_<systems>[_spknorm]``,
    ``_<protocol>`` off SI-5), calibrated on the stacker's own out-of-fold probabilities inside the training speakers.  Each
    row's ``config`` records its systems, the stacker and the encoders; ``single_uar``, every base system's
    own UAR from the same nested run.  ``encoders``: ``{system: folder}`` of per-fold systems' fold encoders
    (default: each system's own, :meth:`emolib.systems.registry.System.encoders_folder`)."""
    systems = registry.check(list(systems or registry.names()), at_least=2)
    profile, corpus = env.profile(profile), env.corpus_name(corpus)
    encoders = {s: Path((encoders or {}).get(s) or registry.get(s).encoders_folder(corpus, profile, protocol))
                for s in systems if registry.get(s).per_fold}
    from ..ssl.encoders import encoder_summary

    summaries = {s: encoder_summary(folder) for s, folder in encoders.items()}

    def settings(subset) -> dict:
        """Which fold encoders, by content: one per-fold system's folder and summary, or ``{system: …}`` of several."""
        own = [s for s in subset if s in encoders]
        if len(own) == 1:
            return {"encoders": env.repo_relative(encoders[own[0]]), "encoder": summaries[own[0]]}
        return {"encoders": {s: env.repo_relative(encoders[s]) for s in own},
                "encoder": {s: summaries[s] for s in own}} if own else {}

    with metrics.Timer() as t_features:
        raw = make_bases(meta, systems, protocol, encoders, profile, progress)
    rows = []
    for norm in (False, True):
        with metrics.Timer() as t:
            probs = {b.name: base_probabilities(meta, b, protocol, log) for b in normalised(raw, meta, norm)}
        alone = {}
        for s in systems:  # each system alone in the same nested run, calibrated on its inner probabilities
            pred = single(meta, probs[s])
            rows.append(results.write_result(
                named(nested_stem(s), speaker_norm=norm, protocol=protocol), pred,
                method=f"{registry.get(s).title}, alone, in the fusion's nested folds",
                protocol=PROTOCOL_NAMES[protocol], profile=profile, corpus=corpus, speaker_norm=norm,
                wall_s=t_features.seconds + t.seconds, config={"system": s, "seed": 0, **settings([s])},
                calibration=calibration_summary(pred, pred.attrs["temperatures"])))
            alone[s] = rows[-1]["uar"]
        for subset in registry.subsets(systems) if leave_one_out else [tuple(systems)]:
            with metrics.Timer() as ts:
                pred = stack(meta, probs, subset)
            config = {"systems": list(subset), "seed": 0,  # stacker() and the probe run with their default seed, 0
                      "stacker": {"model": "logistic regression on log-probabilities", "C grid": list(STACKER_C),
                                  "class_weight": "balanced", "inner_folds": "the protocol's other folds"},
                      **settings(subset)}
            rows.append(results.write_result(
                named(fusion_stem(subset), speaker_norm=norm, protocol=protocol), pred,
                calibration=calibration_summary(pred, pred.attrs["temperatures"]),
                method="stacked fusion of " + " + ".join(registry.get(s).title for s in subset),
                protocol=PROTOCOL_NAMES[protocol], profile=profile, corpus=corpus, speaker_norm=norm,
                wall_s=t_features.seconds + t.seconds + ts.seconds, config=config,
                single_uar={s: alone[s] for s in subset}))
            if log:
                log(f"{rows[-1]['run']}: UAR {100 * rows[-1]['uar']:.1f} % "
                    f"(alone: {', '.join(f'{s} {100 * alone[s]:.1f}' for s in subset)})")
    return rows


def summary(protocol: str = "si5", folder=None, profile: str | None = None, corpus: str | None = None) -> pd.DataFrame:
    """One line per fused subset from its rows: the systems, UAR / WA / macro-F1 without and with
    speaker normalisation (%), and the best single system of the subset in the same nested run."""
    folder = Path(folder) if folder else env.run_dir(env.RESULTS, corpus, profile)
    lines = {}
    for path in sorted(folder.glob("fusion_*.json")):
        if RunName.parse(path.stem).protocol != protocol:
            continue
        row = json.loads(path.read_text())
        key = " + ".join(row["config"]["systems"])
        col = "spk-norm" if row["speaker_norm"] else "raw"
        line = lines.setdefault(key, {"systems": key})
        line[f"UAR {col}"] = 100 * row["uar"]
        line[f"F1 {col}"] = 100 * row.get("f1", np.nan)
        best = max(row["single_uar"], key=row["single_uar"].get)
        line[f"best single {col}"] = f"{best} {100 * row['single_uar'][best]:.1f}"
    if not lines:
        raise EmolibError(f"no fusion rows for {PROTOCOL_NAMES[protocol]} in {env.repo_relative(folder)}; "
                          "run python -m emolib fusion")
    cols = ["systems", "UAR raw", "F1 raw", "best single raw", "UAR spk-norm", "F1 spk-norm", "best single spk-norm"]
    return pd.DataFrame(list(lines.values())).reindex(columns=cols).sort_values("UAR raw", ascending=False)

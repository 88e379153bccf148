"""How the systems hold on audio unlike EmoDB's studio recordings: the robustness study.

Under SI-5, each system is fitted on its fold's training speakers exactly as its own row (clean audio, or
with multi-condition training), and tested on the held-out speakers' recordings degraded by each condition
of :data:`emolib.augmentation.degrade.CONDITIONS` (a phone line; white, pink and babble noise at 20, 10 and
0 dB SNR, the babble mixed only from that fold's *training* speakers; rooms of RT60 0.3, 0.6 and 1.0 s;
OGG and MP3 at a low quality; ±20 dB of gain; clipping).  Every degradation is seeded by the condition and
the file, so the study is repeatable; the degraded recordings' features are cached like the clean ones
(:mod:`emolib.systems.conditions`, keyed by the front-end, the condition and, for babble, the fold's
training speakers).

*Multi-condition training* (``mct=True``): each training utterance also enters its fold's training set in
two degraded copies, drawn per file from :data:`emolib.augmentation.degrade.TRAINING` — the same families
with other parameters and other noise sources (brown noise, the synthetic corpus's voices as babble), so
no test condition is ever trained on.

Rows ``robust_<system>[_mct]_<condition>`` (and ``…_clean``, the same models on clean audio), each with its
predictions and class probabilities, and the calibration of each fold's temperature (fitted on the training
speakers' clean out-of-fold probabilities: :func:`_fitted`) under that condition; ``config`` says the system, the condition and its parameters, the
training and the seed.  :func:`table` reads them back into one table of UAR per system and condition.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..augmentation import degrade
from ..augmentation.degrade import CONDITIONS, TARGET
from ..core import env
from ..core.errors import EmolibError
from ..data.emodb import CLASSES
from ..data.splits import PROTOCOL_NAMES, fold_of, folds
from ..evaluation import metrics, results
from ..evaluation.calibration import fit_temperature, inner_folds, summary
from ..evaluation.metrics import with_probabilities
from ..evaluation.runs import robust_stem
from ..systems import conditions, registry

SEED = conditions.SEED


def _fitted(meta, system, clean, mct, profile, encoders_dir, log):
    """Per fold: the classifier fitted on the fold's training rows (clean, and with ``mct`` their degraded
    copies too), and its temperature, fitted on the out-of-fold probabilities of the training rows' clean
    audio (each inner fold — the protocol's other folds — predicted by the system fitted on the rest, their
    copies included under ``mct``), so no test speaker reaches it."""
    clf = registry.get(system).classifier(profile)
    y = meta.emotion.astype(str).to_numpy()
    speakers = meta.speaker.astype(str).to_numpy()
    rows_fold = fold_of(meta, "si5")

    def fit(X, rows, encoder):
        """The classifier fitted on rows ``rows`` of ``meta`` (features ``X``), with their copies under ``mct``."""
        owner = rows
        if mct:
            X, owner = conditions.with_copies(meta, system, rows, X, encoder)
        return clf.fit(X, y[owner], speakers[owner]), len(X)

    models, temperatures = {}, {}
    for f in folds(meta, "si5"):
        encoder = _encoder(system, encoders_dir, f.index)
        X = clean[f.index]
        oof = np.zeros((len(f.train), len(CLASSES)))
        for held in inner_folds(rows_fold, f.train):
            inner, _ = fit(X[f.train[~held]], f.train[~held], encoder)
            oof[held] = clf.proba(inner, X[f.train[held]])
        temperatures[f.index] = fit_temperature(oof, y[f.train])
        models[f.index], n = fit(X[f.train], f.train, encoder)
        if log:
            log(f"{system}{' (multi-condition)' if mct else ''}: fold {f.index} fitted on {n} rows, "
                f"temperature {temperatures[f.index]:.2f}")
    return clf, models, temperatures


def _encoder(system: str, folder, fold: int):
    """A per-fold system's encoder of fold ``fold`` (None for the others)."""
    if not registry.get(system).per_fold:
        return None
    from ..ssl.encoders import load_encoder

    return load_encoder(folder, fold)


def run_system(meta: pd.DataFrame, system: str, condition_names: Sequence[str] | None = None, mct: bool = False,
               profile: str | None = None, corpus: str | None = None, encoders=None, progress: bool = False,
               log: Callable[[str], None] | None = print) -> list[dict]:
    """The study for one registered system: fitted per fold (clean or ``mct``), tested on clean audio and on
    each of ``condition_names`` (default: every condition); writes and returns the rows."""
    profile, corpus = env.profile(profile), env.corpus_name(corpus)
    names = list(condition_names or CONDITIONS)
    unknown = [c for c in names if c not in CONDITIONS]
    if unknown:
        raise EmolibError(f"--conditions {' '.join(unknown)}: choose from {', '.join(CONDITIONS)}")
    sysinfo = registry.get(system)
    encoders_dir = None
    if sysinfo.per_fold:
        encoders_dir = Path(encoders or sysinfo.encoders_folder(corpus, profile, "si5"))
    with metrics.Timer() as t_fit:
        clean = sysinfo.corpus_features(meta, encoders=encoders_dir, profile=profile, progress=progress)
        clean = clean if isinstance(clean, dict) else {f.index: clean for f in folds(meta, "si5")}
        clf, models, temperatures = _fitted(meta, system, clean, mct, profile, encoders_dir, log)
    rows = []
    for cname in ["clean", *names]:
        with metrics.Timer() as t:
            parts = []
            for f in folds(meta, "si5"):
                if cname == "clean":
                    X = clean[f.index][f.test]
                else:
                    inputs = conditions.degraded_inputs(meta, system, CONDITIONS[cname], f.test, f)
                    X = conditions.rows(system, inputs, _encoder(system, encoders_dir, f.index))
                proba = clf.proba(models[f.index], X)
                part = metrics.predictions(meta, f.test, f.index, np.array(CLASSES)[proba.argmax(axis=1)])
                parts.append(with_probabilities(part, proba))
            pred = pd.concat(parts, ignore_index=True)
        calibration = summary(pred, [temperatures[k] for k in sorted(pred.fold.unique())])
        cond = CONDITIONS[cname] if cname != "clean" else None
        rows.append(results.write_result(
            robust_stem(system, cname, mct), pred,
            method=f"{sysinfo.title}{', multi-condition training' if mct else ''}; tested on "
                   + ("clean audio" if cond is None else f"{cname.replace('_', ' ')} ({cond.family})"),
            protocol=PROTOCOL_NAMES["si5"], profile=env.level(profile), corpus=corpus, speaker_norm=False,
            wall_s=t_fit.seconds + t.seconds, device="cpu" if system != "moco" else None,
            config={"system": system, "condition": cname, "family": cond.family if cond else "clean",
                    "params": dict(cond.params) if cond else {}, "training": "multi-condition" if mct else "clean",
                    "copies": degrade.COPIES if mct else 0, "seed": SEED,
                    **({"encoders": env.repo_relative(encoders_dir)} if encoders_dir else {})},
            calibration=calibration))
        if log:
            log(f"{rows[-1]['run']}: UAR {100 * rows[-1]['uar']:.1f} %")
    return rows


def study(meta: pd.DataFrame, profile: str | None = None, corpus: str | None = None, encoders=None,
          log: Callable[[str], None] | None = print) -> list[dict]:
    """Notebook 06's study at the profile's size (:data:`emolib.core.budgets.ROBUSTNESS`): every system of the
    budget, trained clean and with multi-condition training, on every condition of the budget; with
    ``per_speaker``, on the first that many utterances of each speaker only (a token run: its rows go to the
    profile's own results folder, never the committed ones).  ``encoders``: ``{system: folder}`` of per-fold
    systems' fold encoders (default: each system's own).  Returns the rows."""
    from ..core import budgets

    size = budgets.budget(budgets.ROBUSTNESS, profile)
    if size["per_speaker"]:
        attrs = dict(meta.attrs)
        meta = meta.groupby("speaker", observed=True).head(size["per_speaker"]).reset_index(drop=True)
        meta.attrs.update(attrs)
    systems = size["systems"] or list(registry.names())
    rows = []
    for system in systems:
        for mct in (False, True):
            rows += run_system(meta, system, size["conditions"], mct=mct, profile=profile, corpus=corpus,
                               encoders=(encoders or {}).get(system), log=log)
    return rows


def table(folder: Path | None = None) -> pd.DataFrame:
    """UAR in % of every robustness row in ``folder``: one line per system and training, one column per
    condition (clean first), and the mean drop over :data:`emolib.augmentation.degrade.TARGET`."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    lines: dict[tuple[str, str], dict] = {}
    for p in sorted(folder.glob("robust_*.json")):
        row = json.loads(p.read_text())
        c = row["config"]
        lines.setdefault((c["system"], c["training"]), {})[c["condition"]] = 100 * row["uar"]
    if not lines:
        raise EmolibError(f"no robustness rows in {env.repo_relative(folder)}; run python -m emolib robustness")
    out = pd.DataFrame.from_dict(lines, orient="index")
    out.index.names = ["system", "training"]
    cols = ["clean"] + [c for c in CONDITIONS if c in out.columns]
    out = out[cols]
    if set(TARGET) <= set(out.columns):
        out["drop over the target three"] = out["clean"] - out[list(TARGET)].mean(axis=1)
    return out

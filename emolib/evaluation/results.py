"""The results store (docs/results.md): one writer, the rows, the tables, and their check.

Every evaluation ends in :func:`write_result`, which writes ``results/<run>.json`` (method,
protocol, profile, corpus, speaker_norm, uar, wa, f1, fold_uar, n, wall_s, device, commit, dirty,
date, ``config``: every setting the row was made with, and what else the study measured) and
``results/<run>_predictions.csv`` (file, speaker, fold, y_true, y_pred): the predictions are the
evidence, and :func:`recompute` / :func:`verify_results` derive the numbers from them again;
:func:`provenance_gaps` names the rows written before a field of the contract existed.  Run names
follow :mod:`emolib.evaluation.runs`.  Runs of the smoke profile or on the synthetic corpus go to
``results/<corpus>-<profile>/`` (:func:`emolib.core.env.run_dir`), never over the committed EmoDB
``full`` results.  The tables over the rows are :mod:`emolib.evaluation.tables`'; the metrics
:mod:`emolib.evaluation.metrics`'.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core import env, steps
from ..core.env import REPO
from ..core.errors import EmolibError
from ..core.files import atomic_write
from ..data import splits
from .metrics import PREDICTION_COLUMNS, class_indices, macro_f1, probabilities, scores, summarize, with_probabilities

#: The course report's own numbers, quoted (not reproduced) for comparison.  Its protocol was
#: a random split over segments, which leaks speakers and utterances into the test set.
REPORT_ROWS = [
    {"method": "MoCo v3 ViT linear probe (report)", "segment": "—", "wa": 0.512},
    {"method": "Conv1D (report, Table 3)", "segment": "128 ms", "wa": 0.6126},
    {"method": "Conv1D (report, Table 3)", "segment": "256 ms", "wa": 0.6474},
    {"method": "Conv1D (report, Table 3)", "segment": "512 ms", "wa": 0.7182},
    {"method": "Conv1D (report, Table 3)", "segment": "1024 ms", "wa": 0.7745},
    {"method": "Conv1D (report, Table 3)", "segment": "whole file", "wa": 0.6530},
]
#: The report's per-class test accuracy of its CNN (recall per emotion), in percent.
REPORT_PER_CLASS = {"anger": 77, "boredom": 75, "disgust": 69, "fear": 66, "happiness": 61,
                    "neutral": 59, "sadness": 90}
LEAKY = "random segment split (leaky, not speaker-independent)"


def load_predictions(run: str, folder: Path | None = None) -> pd.DataFrame:
    """A committed run's predictions table."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    path = folder / f"{run}_predictions.csv"
    if not path.is_file():
        raise EmolibError(f"{path}: no predictions for run {run!r}; see python -m emolib results for the runs")
    return pd.read_csv(path, dtype={"speaker": str})


def row_f1(row: dict, folder: Path) -> float:
    """A row's macro-F1: stored, or (rows written before it was stored) from its predictions; NaN
    without them."""
    if "f1" in row:
        return row["f1"]
    path = Path(folder) / f"{row['run']}_predictions.csv"
    if not path.is_file():
        return np.nan
    pred = pd.read_csv(path, usecols=["y_true", "y_pred"])
    return macro_f1(pred.y_true, pred.y_pred)


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, text=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def provenance() -> dict:
    """The commit that wrote a row and whether the code differed from it, asked when the row
    is written: ``commit`` is ``EMOLIB_COMMIT`` when set (a copy of the tree on another machine,
    whose ``.git`` may be missing or stale), else HEAD, else ``unknown``; ``dirty`` is true when a
    tracked file has uncommitted changes outside what runs write themselves (``results/``,
    ``figures/``, and ``notebooks/``, which ``reproduce`` executes in place), ``null`` when it
    cannot be told."""
    if os.environ.get("EMOLIB_COMMIT"):
        return {"commit": os.environ["EMOLIB_COMMIT"], "dirty": os.environ.get("EMOLIB_DIRTY") == "1" or None}
    head = _git("rev-parse", "--short", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results", ":!figures", ":!notebooks")
    return {"commit": (head or "").strip() or "unknown", "dirty": None if status is None else bool(status.strip())}


#: Settings a study may hand :func:`write_result` only inside ``config`` (docs/results.md), so that one
#: question (``row["config"]["seed"]``, ``row["config"]["encoder"]``…) can be asked of every row.
SETTINGS = ("budget", "C", "classifier", "encoder", "encoders", "feature_set", "finetune", "hop_ms", "opensmile",
            "probe", "readout", "seed", "segment", "split_seed", "stacker", "systems", "variant")


def write_result(run: str, pred: pd.DataFrame, *, method: str, protocol: str, profile: str,
                 corpus: str, speaker_norm: bool, wall_s: float, device: str | None = None,
                 folder: Path | None = None, config: dict | None = None, **measured) -> dict:
    """Write ``<run>.json`` and ``<run>_predictions.csv`` (atomically) and return the row.
    ``config``: every setting the row was made with (encoder, probe, budget, seed…; paths relative to
    the repository); ``measured``: what else the study measured beside the predictions (seconds of
    feature extraction, 5-NN scores…), stored as top-level keys.  ``device``: where its training ran;
    default, where this process trains torch models (``EMOLIB_DEVICE``, :func:`emolib.core.devices.name`);
    rows of scikit-learn models say ``cpu``."""
    missing = set(PREDICTION_COLUMNS) - set(pred.columns)
    if missing:
        raise ValueError(f"predictions for run {run!r} lack columns {sorted(missing)}")
    if probabilities(pred) is not None and not np.allclose(probabilities(pred).sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"predictions for run {run!r}: probabilities that do not sum to 1")
    misplaced = sorted(set(measured) & set(SETTINGS))
    if misplaced:
        raise ValueError(f"row {run!r}: settings {misplaced} belong in config=")
    folder = env.run_dir(env.RESULTS, corpus, profile) if folder is None else Path(folder)
    if device is None:
        from ..core.devices import name  # torch, imported only here: the results table does not need it

        device = name()
    row = {"run": run, "method": method, "protocol": protocol, "profile": profile,
           "corpus": corpus, "speaker_norm": bool(speaker_norm), **summarize(pred),
           "wall_s": round(float(wall_s), 1), "device": device, **provenance(),
           "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "config": dict(config or {}),
           **measured}
    atomic_write(folder / f"{run}_predictions.csv", pred.to_csv(index=False).encode())
    atomic_write(folder / f"{run}.json", (json.dumps(row, indent=1) + "\n").encode())
    steps.step(f"row {run}: UAR {row['uar']:.3f} ({device})", row["wall_s"])
    return row


def recompute(run: str, folder: Path | None = None) -> dict:
    """UAR, WA and fold UARs recomputed from a run's predictions file."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    return summarize(load_predictions(run, folder))


#: Files in a results folder that are not rows: ``reproduce``'s notebook timings and the benchmarks'
#: lines (``bench_<name>.json``).
NOT_ROWS = ("timings.json",)


def row_paths(folder: Path) -> list[Path]:
    """The results rows (``<run>.json``) in ``folder``, sorted."""
    if not Path(folder).is_dir():
        return []
    return sorted(p for p in Path(folder).glob("*.json") if p.name not in NOT_ROWS and not p.name.startswith("bench_"))


def read_rows(runs: Sequence[str], folder: Path | None = None) -> list[dict]:
    """The committed rows ``runs`` (``<run>.json`` in ``folder``, default: this corpus and profile),
    in that order; a missing one is a one-line error naming it."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    missing = [r for r in runs if not (folder / f"{r}.json").is_file()]
    if missing:
        raise EmolibError(f"no row {', '.join(missing)} in {env.repo_relative(folder)}")
    return [json.loads((folder / f"{r}.json").read_text()) for r in runs]


def best_row(prefix: str, *, speaker_norm: bool, one_encoder: bool = False, device: str | None = None,
             folder: Path | None = None) -> dict:
    """The row of highest UAR among the runs ``<prefix>*`` in ``folder`` (default: this corpus and
    profile) that are (or are not) ``speaker_norm``; ``one_encoder``: leave out rows of several
    encoder folders side by side; ``device``: only rows whose encoders were trained there."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    rows = [json.loads(p.read_text()) for p in row_paths(folder) if p.name.startswith(prefix)]
    keep = [r for r in rows if r["speaker_norm"] == speaker_norm
            and not (one_encoder and "members" in r["config"].get("encoder", {}))
            and (device is None or r["config"].get("encoder", {}).get("device") == device)]
    if not keep:
        raise EmolibError(f"no {prefix}* row in {env.repo_relative(folder)} with speaker_norm={speaker_norm}"
                          + (", from one encoder" if one_encoder else "") + (f", trained on {device}" if device else ""))
    return max(keep, key=lambda r: r["uar"])


def _holds(value, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_holds(v, key) for v in value.values())
    return isinstance(value, list) and any(_holds(v, key) for v in value)


def provenance_gaps(folder: Path | None = None) -> pd.DataFrame:
    """The rows in ``folder`` that lack a field of the results contract, because code older than
    the field wrote them: ``dirty`` and ``f1``, a non-empty ``config``, and on rows built on trained encoders the SHA-256 of their weights.  One line per such row: run,
    missing (comma-separated), the device its encoders were pretrained on, and its commit."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    lines = []
    for path in row_paths(folder):
        row = json.loads(path.read_text())
        encoder = row.get("config", {}).get("encoder", {})
        missing = [k for k in ("dirty", "f1") if k not in row]
        missing += [] if row.get("config") else ["configuration"]
        missing += ["encoder sha256"] if encoder and "random_init" not in encoder and not _holds(encoder, "sha256") else []
        if missing:
            lines.append({"run": row["run"], "missing": ", ".join(missing),
                          "pretrained_on": encoder.get("device", ""), "commit": row.get("commit", "")})
    return pd.DataFrame(lines, columns=["run", "missing", "pretrained_on", "commit"])


def check_probabilities(run: str, row: dict, pred: pd.DataFrame) -> None:
    """A row's class probabilities (where its predictions carry them): each line sums to 1, its top class is
    the prediction, NLL / ECE / Brier are stored, and the calibrated scores recompute from the row's
    per-fold temperatures.  AssertionError naming the run otherwise."""
    proba = probabilities(pred)
    if proba is None:
        assert "calibration" not in row, f"{run}: a calibration but no probabilities in its predictions"
        return
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-6), f"{run}: probabilities that do not sum to 1"
    top = proba[np.arange(len(proba)), class_indices(pred.y_pred)]
    assert np.all(top >= proba.max(axis=1) - 1e-9), f"{run}: a prediction that is not its top class"
    assert {"nll", "ece", "brier"} <= set(row), f"{run}: probabilities but no NLL, ECE and Brier score"
    if "calibration" in row:
        from .calibration import calibrated

        again = scores(with_probabilities(pred, calibrated(pred, row["calibration"]["temperature"])))
        for key, value in again.items():
            assert value == row["calibration"][key], f"{run}: calibrated {key} {row['calibration'][key]} != {value}"


def verify_results(folder: Path | None = None) -> int:
    """Recompute every run in ``folder`` from its predictions and check it against its JSON
    (UAR, WA, fold UARs, n, and macro-F1, NLL, ECE, Brier where the row has them; the probabilities,
    :func:`check_probabilities`); for SI-5 and LOSO runs also check
    that each prediction came from a fold that held its speaker out, and for EmoBox runs that each
    file was tested in its EmoBox fold.  Raises AssertionError naming the first run that fails;
    returns the count."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    runs = [p.stem for p in row_paths(folder)]
    for run in runs:
        stored = json.loads((folder / f"{run}.json").read_text())
        pred = load_predictions(run, folder)
        again = summarize(pred)
        for key in ("uar", "wa", "fold_uar", "n") + tuple(k for k in ("f1", "nll", "ece", "brier") if k in stored):
            assert again[key] == stored[key], f"{run}: {key} {stored[key]} != recomputed {again[key]}"
        check_probabilities(run, stored, pred)
        if stored["protocol"] in ("SI-5", "LOSO"):
            folds = splits.speaker_folds(pred, "si5" if stored["protocol"] == "SI-5" else "loso")
            held_out = {f.index: set(f.test_speakers) for f in folds}
            bad = [s for s, k in zip(pred.speaker, pred.fold) if s not in held_out[k]]
            assert not bad, f"{run}: speakers {sorted(set(bad))} predicted by a fold that trained on them"
        elif stored["protocol"] == splits.PROTOCOL_NAMES["emobox"]:
            fold_of = splits.emobox_folds()
            bad = [f for f, k in zip(pred.file, pred.fold) if fold_of.get(f) != k + 1]
            assert not bad, f"{run}: files {bad[:3]} not predicted in their EmoBox fold"
    return len(runs)

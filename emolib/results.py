"""The results store (docs/results.md): one writer, the rows, the tables, and their check.

Every evaluation ends in :func:`write_result`, which writes ``results/<run>.json`` (method,
protocol, profile, corpus, speaker_norm, uar, wa, f1, fold_uar, n, wall_s, device, commit, dirty,
date, and whatever configuration the study adds) and ``results/<run>_predictions.csv`` (file,
speaker, fold, y_true, y_pred): the predictions are the evidence, and :func:`recompute` /
:func:`verify_results` derive the numbers from them again; :func:`provenance_gaps` names the rows
written before a field of the contract existed.  Runs of the smoke profile or on the
synthetic corpus go to ``results/<corpus>-<profile>/`` (:func:`emolib.config.run_dir`), never over
the committed EmoDB ``full`` results.  ``python -m emolib results`` prints :func:`results_table`.
The metrics themselves are :mod:`emolib.evaluation`'s.
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

from . import config, splits, steps
from .config import REPO
from .errors import EmolibError
from .evaluation import PREDICTION_COLUMNS, macro_f1, summarize
from .files import atomic_write

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
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
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


def write_result(run: str, pred: pd.DataFrame, *, method: str, protocol: str, profile: str,
                 corpus: str, speaker_norm: bool, wall_s: float, device: str | None = None,
                 folder: Path | None = None, **extra) -> dict:
    """Write ``<run>.json`` and ``<run>_predictions.csv`` (atomically) and return the row.
    ``device``: where its training ran; default, where this process trains torch models
    (``EMOLIB_DEVICE``, :func:`emolib.devices.name`); rows of scikit-learn models say ``cpu``."""
    missing = set(PREDICTION_COLUMNS) - set(pred.columns)
    if missing:
        raise ValueError(f"predictions for run {run!r} lack columns {sorted(missing)}")
    folder = config.run_dir(config.RESULTS, corpus, profile) if folder is None else Path(folder)
    if device is None:
        from .devices import name  # torch, imported only here: the results table does not need it

        device = name()
    row = {"run": run, "method": method, "protocol": protocol, "profile": profile,
           "corpus": corpus, "speaker_norm": bool(speaker_norm), **summarize(pred),
           "wall_s": round(float(wall_s), 1), "device": device, **provenance(),
           "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **extra}
    atomic_write(folder / f"{run}_predictions.csv", pred.to_csv(index=False).encode())
    atomic_write(folder / f"{run}.json", (json.dumps(row, indent=1) + "\n").encode())
    steps.step(f"row {run}: UAR {row['uar']:.3f} ({device})", row["wall_s"])
    return row


def recompute(run: str, folder: Path | None = None) -> dict:
    """UAR, WA and fold UARs recomputed from a run's predictions file."""
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
    return summarize(load_predictions(run, folder))


TABLE_COLUMNS = ["method", "protocol", "profile", "corpus", "speaker_norm", "uar", "wa", "f1",
                 "fold UAR (mean ± std)", "n", "wall_s", "device", "run"]


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
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
    missing = [r for r in runs if not (folder / f"{r}.json").is_file()]
    if missing:
        raise EmolibError(f"no row {', '.join(missing)} in {config.repo_relative(folder)}")
    return [json.loads((folder / f"{r}.json").read_text()) for r in runs]


def best_row(prefix: str, *, speaker_norm: bool, one_encoder: bool = False, device: str | None = None,
             folder: Path | None = None) -> dict:
    """The row of highest UAR among the runs ``<prefix>*`` in ``folder`` (default: this corpus and
    profile) that are (or are not) ``speaker_norm``; ``one_encoder``: leave out rows of several
    encoder folders side by side; ``device``: only rows whose encoders were trained there."""
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
    rows = [json.loads(p.read_text()) for p in row_paths(folder) if p.name.startswith(prefix)]
    keep = [r for r in rows if r["speaker_norm"] == speaker_norm
            and not (one_encoder and "members" in r.get("encoder", {}))
            and (device is None or r.get("encoder", {}).get("device") == device)]
    if not keep:
        raise EmolibError(f"no {prefix}* row in {config.repo_relative(folder)} with speaker_norm={speaker_norm}"
                          + (", from one encoder" if one_encoder else "") + (f", trained on {device}" if device else ""))
    return max(keep, key=lambda r: r["uar"])


def results_table(folder: Path | None = None, quoted: bool = True) -> pd.DataFrame:
    """All runs in ``folder`` (default: this corpus and profile), plus the report's quoted
    numbers.  Rows written before macro-F1 was stored get it from their predictions."""
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
    rows = [json.loads(p.read_text()) for p in row_paths(folder)]
    for r in rows:
        if "f1" not in r and (folder / f"{r['run']}_predictions.csv").is_file():  # rows from before F1 was stored
            r["f1"] = row_f1(r, folder)
        f = r["fold_uar"]
        r["fold UAR (mean ± std)"] = f"{np.mean(f):.3f} ± {np.std(f):.3f}" if len(f) > 1 else "—"
    if quoted:
        rows += [{"method": f"{r['method']} {r['segment']}".replace(" —", ""),
                  "protocol": "random segment split (leaky), quoted from the report",
                  "profile": "—", "corpus": "emodb", "wa": r["wa"]} for r in REPORT_ROWS]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


#: ``results --protocol`` choices, in the order the table shows them: speaker-independent runs
#: (SI-5, LOSO), EmoBox's speaker-dependent folds, the leaky random split (and the report's quotes).
TABLE_PROTOCOLS = ("si5", "emobox", "leaky")


def _protocol_key(protocol: str) -> str:
    """A row's protocol name -> its ``results --protocol`` choice (:data:`TABLE_PROTOCOLS`)."""
    try:
        pid = splits.protocol_id(protocol)
    except ValueError:  # the report's leaky split, and its quoted numbers
        return "leaky"
    return "si5" if pid in splits.SPEAKER_INDEPENDENT else pid


def markdown_table(table: pd.DataFrame) -> str:
    """A :func:`results_table` as the README's Markdown table, every column, UAR/WA/F1 in %; the
    other seeds of one study are counted, not listed (``ablation --table --seeds`` summarises them)."""
    replicate = table.run.fillna("").str.contains(r"_seed\d+(?:_spknorm)?$")
    table = table[~replicate]
    cols = ["method", "protocol", "profile", "corpus", "speaker_norm", "uar", "wa", "f1",
            "fold UAR (mean ± std)", "wall_s", "device"]
    table = table[[c for c in cols if c in table]].copy()
    for c in ("uar", "wa", "f1"):
        table[c] = [f"{100 * v:.1f} %" if pd.notna(v) else "" for v in table[c]]
    table["speaker_norm"] = table.speaker_norm.map({True: "yes", False: "no"}).fillna("")
    table["wall_s"] = [f"{v:.0f}" if pd.notna(v) else "" for v in table.wall_s]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row.astype(object).fillna("")) + " |" for _, row in table.iterrows()]
    if replicate.any():
        lines += ["", f"*{int(replicate.sum())} rows of further seeds (runs `…_seed<S>`) are not listed; "
                  "`python -m emolib ablation --table --seeds` summarises them.*"]
    return "\n".join(lines)


def print_results(corpus: str | None = None, profile: str | None = None, markdown: bool = False,
                  protocol: str | None = None, sort: str = "uar") -> None:
    """Print the results table of a corpus and profile (the report's quoted numbers included),
    as text (one run a line, at most 120 columns, UAR and WA in %, speaker-independent runs first)
    or as a Markdown table with every column (for the README).  ``protocol``: ``si5``,
    ``emobox`` or ``leaky`` keeps only those runs; ``sort``: ``uar``, ``wa`` (best first) or ``run``."""
    name, prof = config.corpus_name(corpus), config.profile(profile)
    folder = config.run_dir(config.RESULTS, corpus, profile)
    table = results_table(folder)
    if protocol:
        table = table[[_protocol_key(p) == protocol for p in table.protocol]]
    if markdown:
        print(markdown_table(table))
        return
    runs = table[table.run.notna()]
    where = config.repo_relative(folder)
    kind = f"{protocol} runs" if protocol else "runs"
    if runs.empty:
        print(f"no {kind} yet for profile {prof} on {name} in {where}/: python -m emolib reproduce --profile {prof}")
    else:
        print(f"{len(runs)} {kind} in {where}/ (profile {prof}, {name}); UAR, WA and macro-F1 in %, fold UAR mean ± std")
    pct = lambda v: f"{100 * v:5.1f}" if pd.notna(v) else "    —"
    lines = []
    for r in table.to_dict("records"):
        quoted = pd.isna(r["run"])
        fold = r["fold UAR (mean ± std)"]
        if isinstance(fold, str) and "±" in fold:
            m, sd = (float(x) for x in fold.split("±"))
            fold = f"{100 * m:.1f} ± {100 * sd:.1f}"
        else:
            fold = "—"
        lines.append((_protocol_key(r["protocol"]), quoted,
                      f"{r['method']}, quoted from the report" if quoted else r["run"],
                      r["protocol"] if r["protocol"] in ("SI-5", "LOSO") else _protocol_key(r["protocol"]),
                      "—" if quoted else ("yes" if r["speaker_norm"] else "no"),
                      r["uar"], r["wa"], r["f1"], fold, "" if pd.isna(r["n"]) else str(int(r["n"]))))
    key = {"uar": lambda x: -(x[5] if pd.notna(x[5]) else -1), "wa": lambda x: -(x[6] if pd.notna(x[6]) else -1),
           "run": lambda x: x[2]}[sort]
    lines.sort(key=lambda x: (TABLE_PROTOCOLS.index(x[0]), x[1], key(x)))
    width = min(60, max(len(x[2]) for x in lines)) if lines else 3
    print(f"{'run':<{width}}  {'proto':<6}  {'norm':<4}  {'UAR':>5}  {'WA':>5}  {'F1':>5}  {'fold UAR':<13}  {'n':>4}")
    for _, _, run, proto, norm, u, w, f1, fold, n in lines:
        run = run if len(run) <= width else run[:width - 1] + "…"
        print(f"{run:<{width}}  {proto:<6}  {norm:<4}  {pct(u)}  {pct(w)}  {pct(f1)}  {fold:<13}  {n:>4}")


#: The keys of which a row holds at least one, saying how it was made (docs/results.md).
HOW_MADE = ("config", "budget", "encoder", "feature_set", "finetune", "systems")


def _holds(value, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_holds(v, key) for v in value.values())
    return isinstance(value, list) and any(_holds(v, key) for v in value)


def provenance_gaps(folder: Path | None = None) -> pd.DataFrame:
    """The rows in ``folder`` that lack a field of the results contract, because code older than
    the field wrote them: ``dirty`` and ``f1``, a configuration (one of :data:`HOW_MADE`), and on
    rows built on trained encoders the SHA-256 of their weights.  One line per such row: run,
    missing (comma-separated), the device its encoders were pretrained on, and its commit."""
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
    lines = []
    for path in row_paths(folder):
        row = json.loads(path.read_text())
        encoder = row.get("encoder", {})
        missing = [k for k in ("dirty", "f1") if k not in row]
        missing += [] if any(k in row for k in HOW_MADE) else ["configuration"]
        missing += ["encoder sha256"] if encoder and "random_init" not in encoder and not _holds(encoder, "sha256") else []
        if missing:
            lines.append({"run": row["run"], "missing": ", ".join(missing),
                          "pretrained_on": encoder.get("device", ""), "commit": row.get("commit", "")})
    return pd.DataFrame(lines, columns=["run", "missing", "pretrained_on", "commit"])


def verify_results(folder: Path | None = None) -> int:
    """Recompute every run in ``folder`` from its predictions and check it against its JSON
    (UAR, WA, fold UARs, n, and macro-F1 where the row has it); for SI-5 and LOSO runs also check
    that each prediction came from a fold that held its speaker out, and for EmoBox runs that each
    file was tested in its EmoBox fold.  Raises AssertionError naming the first run that fails;
    returns the count."""
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
    runs = [p.stem for p in row_paths(folder)]
    for run in runs:
        stored = json.loads((folder / f"{run}.json").read_text())
        pred = load_predictions(run, folder)
        again = summarize(pred)
        for key in ("uar", "wa", "fold_uar", "n") + (("f1",) if "f1" in stored else ()):
            assert again[key] == stored[key], f"{run}: {key} {stored[key]} != recomputed {again[key]}"
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

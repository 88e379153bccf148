"""EmoBox's EmoDB folds as a second, clearly labelled protocol beside SI-5 (docs/protocol.md).

EmoBox (Ma et al., Interspeech 2024) publishes the largest EmoDB leaderboard, on five test folds
that each hold utterances of **all ten speakers** (:func:`emolib.splits.folds` with
``"emobox"``).  Its numbers and ours therefore differ in what they measure: SI-5 never tests a
speaker the model was trained on, EmoBox always does.  This module runs the same systems on
EmoBox's folds, each fitted per fold on that fold's training utterances only (self-supervised
pretraining included), and sets the two protocols side by side:

- :func:`run` writes the rows ``<run>_emobox`` (``python -m emolib emobox``): the openSMILE
  baselines, the Conv1D on whole utterances, the MoCo v3 linear probe of the default (``full``
  profile) encoder and their stacked fusion, each without and with speaker normalisation;
- :func:`comparison` pairs every SI-5 row with its EmoBox row: how many points speaker overlap
  is worth for each kind of model;
- :func:`leaderboard` is EmoBox's own table for EmoDB, **quoted** (not reproduced) from its
  repository, for the reader to set beside ours.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Sequence

import pandas as pd

from . import baselines, config, evaluation, results, segments
from .errors import EmolibError
from .splits import PROTOCOL_NAMES, folds

PROTOCOL = "emobox"
SYSTEMS = ("baselines", "cnn", "moco", "fusion")
#: Where the quoted leaderboard comes from (the shipped CSV holds its numbers).
LEADERBOARD_SOURCE = ("EmoBox intra-corpus results for EmoDB (repository emo-box/EmoBox, docs/intra-corpus.jpg, "
                      "Table 4): frozen pretrained speech encoders (trained on thousands of hours outside EmoDB) "
                      "with a small head, UA / WA / macro-F1 in %")

#: The systems compared across protocols: (name, SI-5 run).  The EmoBox run of an SI-5 run is
#: :func:`emobox_run` of it; each has a speaker-normalised twin (:func:`spknorm_run`).
COMPARED = (
    ("ComParE_2016 + logistic regression", "baseline_compare_logreg"),
    ("ComParE_2016 + linear SVM", "baseline_compare_svm"),
    ("eGeMAPSv02 + logistic regression", "baseline_egemaps_logreg"),
    ("eGeMAPSv02 + linear SVM", "baseline_egemaps_svm"),
    ("Conv1D, whole utterances", "cnn_si5_whole"),
    ("MoCo v3 ViT-T/6 (the report's recipe), linear probe", "moco_probe_logreg"),
    ("Stacked fusion of all four (python -m emolib fusion)", "fusion_compare_egemaps_moco_cnn"),
)


def emobox_run(si5_run: str) -> str:
    """The EmoBox twin of an SI-5 run name: ``cnn_si5_whole_spknorm`` -> ``cnn_whole_spknorm_emobox``."""
    return si5_run.replace("_si5", "") + "_emobox"


def spknorm_run(run: str) -> str:
    """The speaker-normalised twin of a run name (``_spknorm`` before any protocol suffix)."""
    return run[: -len("_emobox")] + "_spknorm_emobox" if run.endswith("_emobox") else run + "_spknorm"


def check_systems(names: Sequence[str]) -> list[str]:
    """``names`` if each is one of :data:`SYSTEMS`, else a one-line error listing them."""
    bad = [n for n in names if n not in SYSTEMS]
    if bad:
        raise EmolibError(f"--systems {' '.join(bad)}: choose from {', '.join(SYSTEMS)}")
    return list(names)


def _check_corpus(meta: pd.DataFrame) -> None:
    """The EmoBox folds exist for these files (an error naming one that has none, before any work)."""
    try:
        folds(meta, PROTOCOL)
    except ValueError as e:
        raise EmolibError(str(e)) from None


def run(meta: pd.DataFrame, systems: Sequence[str] = SYSTEMS, *, device: str | None = None,
        profile: str | None = None, corpus: str | None = None, out: str | Path | None = None,
        progress: bool = True) -> list[dict]:
    """Evaluate ``systems`` on EmoBox's folds and write their rows (see the module docstring):
    ``baselines`` (4 feature set x classifier pairs, seconds with a warm feature cache), ``cnn``
    (the Conv1D of notebook 05 with its profile budget, 2 trainings x 5 folds), ``moco`` (MoCo v3
    pretrained with the profile's budget on each EmoBox fold's training utterances into ``out``,
    default ``checkpoints/emobox``, resumable; then the linear probe of notebook 04), ``fusion`` (the
    stacked fusion of :mod:`emolib.fusion` over those four systems, nested in EmoBox's folds; needs the
    ``moco`` encoders).  Returns the rows written."""
    check_systems(systems)
    _check_corpus(meta)
    profile, corpus = config.profile(profile), config.corpus_name(corpus)
    name = PROTOCOL_NAMES[PROTOCOL]
    rows = []
    if "baselines" in systems:
        rows += baselines.study(meta, PROTOCOL, profile=profile, corpus=corpus, progress=progress)
    if "cnn" in systems:
        budget = segments.budget(profile)
        frames = segments.descriptors(meta, progress=progress)
        for norm in (False, True):
            with evaluation.Timer() as t:
                pred, _, segment_wa = segments.si5(frames, meta, None, budget, speaker_norm=norm,
                                                   protocol=PROTOCOL, progress=progress)
            rows.append(results.write_result(
                emobox_run("cnn_si5_whole_spknorm" if norm else "cnn_si5_whole"), pred,
                method="Conv1D on whole utterances", protocol=name, profile=profile, corpus=corpus,
                speaker_norm=norm, wall_s=t.seconds, segment="whole", segment_wa=segment_wa,
                seed=budget.seed, config={"budget": asdict(budget)}))
    if "moco" in systems:
        from .pretrain import pretrain_folds
        from .pretrain_config import default_out, profile_config
        from .probes import probe_checkpoints

        out = Path(out) if out else default_out(corpus, profile, PROTOCOL)
        walls = [last["wall_s"] for last in pretrain_folds(meta, profile_config(profile, protocol=PROTOCOL), out,
                                                           device, progress)]
        rows += probe_checkpoints(meta, out, "moco_probe_logreg", profile=profile, corpus=corpus,
                                  progress=progress, extra={"pretrain_s": round(float(sum(walls)), 1)})
    if "fusion" in systems:  # the stacked fusion of all four systems (emolib.fusion), on these folds
        from . import fusion

        rows += fusion.run(meta, fusion.SYSTEMS, protocol=PROTOCOL, encoders=out, profile=profile, corpus=corpus,
                           progress=progress, log=None)
    return rows


def _uar(table: dict, run: str) -> float:
    return 100 * table[run]["uar"] if run in table else float("nan")


def comparison(folder: str | Path | None = None) -> pd.DataFrame:
    """Per compared system, pooled UAR in % under SI-5 and on EmoBox's folds, without and with
    speaker normalisation, and the gain from speaker overlap (EmoBox minus SI-5); NaN where a
    row is missing.  Read from the rows in ``folder`` (default: this corpus and profile)."""
    folder = config.run_dir(config.RESULTS) if folder is None else Path(folder)
    rows = {p.stem: json.loads(p.read_text()) for p in results.row_paths(folder)}
    out = []
    for system, si5 in COMPARED:
        box = emobox_run(si5)
        r = {"system": system,
             "SI-5": _uar(rows, si5), "EmoBox": _uar(rows, box),
             "SI-5 spk-norm": _uar(rows, spknorm_run(si5)), "EmoBox spk-norm": _uar(rows, spknorm_run(box))}
        r["overlap gain"] = r["EmoBox"] - r["SI-5"]
        r["overlap gain spk-norm"] = r["EmoBox spk-norm"] - r["SI-5 spk-norm"]
        out.append(r)
    return pd.DataFrame(out).set_index("system")


def leaderboard() -> pd.DataFrame:
    """EmoBox's published EmoDB numbers (quoted; :data:`LEADERBOARD_SOURCE`): model, UA, WA, F1."""
    text = resources.files("emolib").joinpath("data/emobox_leaderboard.csv").read_text()
    table = pd.DataFrame(list(csv.DictReader(text.splitlines())))
    for c in ("ua", "wa", "f1"):
        table[c] = table[c].astype(float)
    return table.set_index("model")


def markdown(table: pd.DataFrame) -> str:
    """:func:`comparison` as a Markdown table (one decimal, blank where a row is missing)."""
    cols = list(table.columns)
    lines = ["| system | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for system, r in table.iterrows():
        cells = ["" if pd.isna(v) else (f"{v:+.1f}" if "gain" in c else f"{v:.1f}") for c, v in r.items()]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

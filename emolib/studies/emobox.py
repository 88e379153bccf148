"""EmoBox's EmoDB folds as a second, clearly labelled protocol beside SI-5 (docs/protocol.md).

EmoBox (Ma et al., Interspeech 2024) publishes the largest EmoDB leaderboard, on five test folds
that each hold utterances of **all ten speakers** (:func:`emolib.data.splits.folds` with
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

from ..core import env
from ..core.errors import EmolibError
from ..data import descriptors
from ..data.splits import PROTOCOL_NAMES, folds
from ..evaluation import metrics, results
from ..evaluation.runs import cnn_stem, fusion_stem, named, twin
from ..models import cnn
from ..systems import baselines, registry
from . import segments

PROTOCOL = "emobox"
SYSTEMS = ("baselines", "cnn", "moco", "fusion")
#: Where the quoted leaderboard comes from (the shipped CSV holds its numbers).
LEADERBOARD_SOURCE = ("EmoBox intra-corpus results for EmoDB (repository emo-box/EmoBox, docs/intra-corpus.jpg, "
                      "Table 4): frozen pretrained speech encoders (trained on thousands of hours outside EmoDB) "
                      "with a small head, UA / WA / macro-F1 in %")

def fused() -> list[str]:
    """The registered systems this study runs on EmoBox's folds, and fuses: the baselines and the report's recipe's
    encoder (a learner's encoders, :attr:`emolib.systems.registry.System.learner`, exist for SI-5 folds only)."""
    return [s for s in registry.names() if registry.get(s).learner == "report"]


def compared() -> list[tuple[str, str]]:
    """The systems compared across protocols, as (name, SI-5 run): every system of :func:`fused`
    (:mod:`emolib.systems.registry`) and its variants (each openSMILE set also with its linear SVM), and their fusion.
    A run's EmoBox twin and speaker-normalised twin are :func:`emolib.evaluation.runs.twin` of it."""
    out = []
    for name in fused():
        system = registry.get(name)
        out += [(system.title, system.row), *system.variants]
    return out + [(f"stacked fusion of all {len(fused())} (python -m emolib fusion)", fusion_stem(fused()))]


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
    stacked fusion of :mod:`emolib.systems.fusion` over those four systems (:func:`fused`), nested in EmoBox's folds; needs the
    ``moco`` encoders).  Returns the rows written."""
    check_systems(systems)
    _check_corpus(meta)
    profile, corpus = env.profile(profile), env.corpus_name(corpus)
    name = PROTOCOL_NAMES[PROTOCOL]
    rows = []
    if "baselines" in systems:
        rows += baselines.study(meta, PROTOCOL, profile=profile, corpus=corpus, progress=progress)
    if "cnn" in systems:
        budget = cnn.budget(profile)
        frames = descriptors.descriptors(meta, progress=progress)
        for norm in (False, True):
            with metrics.Timer() as t:
                pred, _, segment_wa = segments.si5(frames, meta, None, budget, speaker_norm=norm,
                                                   protocol=PROTOCOL, progress=progress)
            rows.append(results.write_result(
                named(cnn_stem(None), speaker_norm=norm, protocol=PROTOCOL), pred,
                method="Conv1D on whole utterances", protocol=name, profile=profile, corpus=corpus,
                speaker_norm=norm, wall_s=t.seconds, segment_wa=segment_wa,
                config={"budget": asdict(budget), "segment": "whole", "seed": budget.seed}))
    if "moco" in systems:
        from ..evaluation.probes import probe_checkpoints
        from ..ssl.pretrain import pretrain_folds
        from ..ssl.pretrain_config import default_out, profile_config

        out = Path(out) if out else default_out(corpus, profile, PROTOCOL)
        walls = [last["wall_s"] for last in pretrain_folds(meta, profile_config(profile, protocol=PROTOCOL), out,
                                                           device, progress)]
        rows += probe_checkpoints(meta, out, registry.get("moco").row, profile=profile, corpus=corpus,
                                  progress=progress, measured={"pretrain_s": round(float(sum(walls)), 1)})
    if "fusion" in systems:  # the stacked fusion of every system (emolib.systems.fusion), on these folds
        from ..systems import fusion

        # The smoke profile fuses all systems only (the comparison reads only that row): the subsets that
        # leave one out cost four more nested stackings each, and their full rows are committed.
        rows += fusion.run(meta, fused(), protocol=PROTOCOL, encoders={"moco": out}, profile=profile, corpus=corpus,
                           progress=progress, log=None, leave_one_out=profile != "smoke")
    return rows


def _uar(table: dict, run: str) -> float:
    return 100 * table[run]["uar"] if run in table else float("nan")


def comparison(folder: str | Path | None = None) -> pd.DataFrame:
    """Per compared system, pooled UAR in % under SI-5 and on EmoBox's folds, without and with
    speaker normalisation, and the gain from speaker overlap (EmoBox minus SI-5); NaN where a
    row is missing.  Read from the rows in ``folder`` (default: this corpus and profile)."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    rows = {p.stem: json.loads(p.read_text()) for p in results.row_paths(folder)}
    out = []
    for system, si5 in compared():
        box = twin(si5, protocol=PROTOCOL)
        r = {"system": system,
             "SI-5": _uar(rows, si5), "EmoBox": _uar(rows, box),
             "SI-5 spk-norm": _uar(rows, twin(si5, speaker_norm=True)),
             "EmoBox spk-norm": _uar(rows, twin(box, speaker_norm=True))}
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

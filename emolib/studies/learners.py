"""Which learner learns emotion from 535 utterances: first, what each learner's embeddings know.

The pretext ablation (notebook 07) left every MoCo v3 variant within two points of the report's recipe, far
below the hand-made eGeMAPS functionals.  Before changing the learner, :func:`diagnose` asks each embedding
space which label-free properties of an utterance it holds (:mod:`emolib.evaluation.knowledge`: pitch level
and range, loudness level and range, a speaking-rate proxy, voice quality, spectral slope, read back by a ridge
regression under SI-5; and 5-NN speaker accuracy), beside the emotion UAR of its probe row.  The spaces
(:func:`spaces`): a random-weight ViT of the encoders' shape, the report's recipe and the default encoder (each
with the class token averaged over windows and with the statistics read-out), and the eGeMAPS functionals as
the reference; ``--encoders`` adds any other folder of fold encoders (a new learner).

``python -m emolib diagnose`` writes ``results/knowledge.csv`` (one row per space); notebook 07 draws it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import env
from ..core.files import atomic_write
from ..evaluation.knowledge import knowledge_table
from ..evaluation.runs import RunName, baseline_stem, encoder_prefix, probe_stem

#: The file :func:`diagnose` writes in the run's results folder.
KNOWLEDGE_FILE = "knowledge.csv"
EGEMAPS = "eGeMAPS functionals (reference)"


def encoder_folders(profile: str | None = None, corpus: str | None = None,
                    extra: Sequence[str | os.PathLike] = ()) -> dict[str, Path]:
    """The fold encoders diagnosed, by display name: the report's recipe, the default encoder and ``extra``
    (named by their folder)."""
    from ..core import budgets
    from ..ssl.pretrain_config import default_encoder, default_out

    out = {"report's recipe": default_out(corpus, profile)}
    if budgets.DEFAULT_PRETEXT != "report":
        out[f"default encoder ({budgets.DEFAULT_PRETEXT})"] = default_encoder(profile, corpus)[1]
    return {**out, **{env.repo_relative(Path(f)): Path(f) for f in extra}}


def spaces(meta: pd.DataFrame, folders: Mapping[str, Path], *, profile: str | None = None,
           progress: bool = True) -> tuple[dict[str, object], dict[str, str]]:
    """The embedding spaces of :func:`diagnose` and the results row that probes each (where there is one):
    a random-weight ViT of the first encoder's shape (seed 0), each folder's fold encoders with the class
    token averaged over windows and with the statistics read-out, and the eGeMAPS functionals."""
    from ..data.opensmile import functionals
    from ..models.vit import BackboneConfig
    from ..ssl.encoders import encoder_config, encoder_summary, fold_embeddings, random_embeddings

    first = next(iter(folders.values()))
    _, info = encoder_config(first, 0)
    out = {"random-weight ViT": random_embeddings(meta, BackboneConfig(**info["backbone"]), seed=0)}
    rows = {"random-weight ViT": probe_stem("vit_random")}
    from .ablation import default_out, run_name

    for name, folder in folders.items():
        enc = encoder_summary(folder)  # missing encoders: one line, before any work
        out[name] = fold_embeddings(meta, folder, progress=progress)
        out[f"{name}, statistics read-out"] = fold_embeddings(meta, folder, progress=progress, stats=True)
        if Path(os.path.abspath(folder)).parent == Path(os.path.abspath(default_out(None, profile))):
            # a folder of the ablation / learners' study: its rows are ssl_<variant>[_stats][_seed<S>]
            run = RunName.parse(f"ssl_{Path(folder).name}")
            variant = run.stem[len("ssl_"):]
            rows[name] = str(run_name(variant, run.tag, run.seed))
            rows[f"{name}, statistics read-out"] = str(run_name(variant, run.tag, run.seed, stats=True))
        else:  # notebook 04's rows of that encoder: named by what it is
            prefix = encoder_prefix(enc["pretext"], enc["aug"], enc["arch"], enc["pretrain"].get("objective", "moco"),
                                    enc["pretrain"].get("targets", "none"))
            rows[name] = probe_stem(prefix)
            rows[f"{name}, statistics read-out"] = probe_stem(prefix, readout={"stats": True, "pool": "cls"})
    out[EGEMAPS] = functionals(meta, "eGeMAPSv02", progress=progress)
    rows[EGEMAPS] = baseline_stem("egemaps", "logreg")
    return out, rows


def diagnose(meta: pd.DataFrame, folders: Mapping[str, Path] | None = None, *, profile: str | None = None,
             corpus: str | None = None, progress: bool = True, write: bool = True) -> pd.DataFrame:
    """What each space of :func:`spaces` knows (:func:`emolib.evaluation.knowledge.knowledge_table`: R² per
    property, speaker 5-NN), with the UAR of its probe row raw and speaker-normalised where that row exists
    (``NaN`` otherwise) and whether the "raw" row is speaker-normalised already (an encoder on per-speaker
    inputs); written to ``results/knowledge.csv`` with ``write``."""
    folders = encoder_folders(profile, corpus) if folders is None else folders
    embeddings, row_of = spaces(meta, folders, profile=profile, progress=progress)
    table = knowledge_table(meta, embeddings, progress=progress)
    where = env.run_dir(env.RESULTS, corpus, profile)
    raw = {name: _row(where / f"{row_of[name]}.json") for name in table.index}
    table["UAR raw"] = [raw[name].get("uar", np.nan) for name in table.index]
    table["UAR spk-norm"] = [_row(where / f"{row_of[name]}_spknorm.json").get("uar", np.nan) for name in table.index]
    # an encoder on per-speaker inputs has no raw row: its "raw" probe is speaker-normalised already
    table["raw is speaker-normalised"] = [bool(raw[name].get("speaker_norm")) for name in table.index]
    table.index.name = "space"
    if write:
        atomic_write(where / KNOWLEDGE_FILE, table.to_csv(float_format="%.4f").encode())
    return table


def _row(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def read(folder: Path | None = None) -> pd.DataFrame:
    """The table :func:`diagnose` wrote (``results/knowledge.csv``)."""
    path = (env.run_dir(env.RESULTS) if folder is None else Path(folder)) / KNOWLEDGE_FILE
    return pd.read_csv(path, index_col="space")


#: The issue's bar for one self-supervised encoder (mean of at least three seeds): above eGeMAPS's probe rows.
TARGETS = {"raw": 0.68, "speaker-normalised": 0.80}


def seed_table(stems: Sequence[str], folder: Path | None = None) -> pd.DataFrame:
    """Each stem's probe UAR over its pretraining seeds (``<stem>``, ``<stem>_seed1``, …; the rows there are;
    a stem may carry its tag, ``ssl_cnn_stats``), raw and speaker-normalised: mean, standard deviation, the seeds
    found, whether the mean of three or more seeds clears :data:`TARGETS` (a raw target only by raw rows: not by
    an encoder on per-speaker inputs, whose "raw" rows are speaker-normalised), and the mean 5-NN speaker accuracy
    where the rows measured it."""
    from ..evaluation.results import row_paths

    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    found: dict[tuple[str, bool], dict[int, dict]] = {}
    for path in row_paths(folder):
        name = RunName.parse(path.stem)
        stem = str(RunName(name.stem, name.tag))
        if stem in stems and name.protocol == "si5":
            found.setdefault((stem, name.speaker_norm), {})[name.seed] = json.loads(path.read_text())
    out = []
    for stem in stems:
        for norm, target in ((False, TARGETS["raw"]), (True, TARGETS["speaker-normalised"])):
            rows = found.get((stem, norm), {})
            values = np.array([rows[s]["uar"] for s in sorted(rows)])
            speaker = [r["neighbours"]["speaker_acc"] for r in rows.values() if "neighbours" in r]
            normalised = [bool(r.get("speaker_norm")) for r in rows.values()]  # per-speaker inputs: True in "raw" rows
            out.append({"stem": stem, "speaker_norm": norm, "seeds": ", ".join(map(str, sorted(rows))),
                        "rows_speaker_normalised": bool(rows) and all(normalised),
                        "uar_mean": values.mean() if len(values) else np.nan,
                        "uar_sd": values.std(ddof=1) if len(values) > 1 else np.nan,
                        "speaker_5nn": np.mean(speaker) if speaker else np.nan,
                        "target": target, "reached": bool(len(values) >= 3 and values.mean() >= target
                                                          and (norm or not any(normalised)))})
    return pd.DataFrame(out).set_index(["stem", "speaker_norm"])


def study_stems() -> list[str]:
    """The learners' study (``python -m emolib ablation --variants <learner>``, notebook 07 section 9): the
    report's recipe and the default encoder (the pretext ablation's rows), each learner of
    :data:`emolib.ssl.shortcut.LEARNERS` with the class token and with the statistics read-out, and the two
    openSMILE sets with the same logistic regression."""
    from ..core import budgets
    from ..ssl.shortcut import LEARNERS

    return ["ssl_report", f"ssl_{budgets.DEFAULT_PRETEXT}", *[f"ssl_{n}{r}" for n in LEARNERS for r in ("", "_stats")],
            baseline_stem("egemaps", "logreg"), baseline_stem("compare", "logreg")]


#: The diagnostic's properties the study's table shows beside each row (the cues the learned spaces miss most).
STUDY_PROPERTIES = ("F0 range", "speaking rate")


def study_table(folder: Path | None = None) -> pd.DataFrame:
    """:func:`seed_table` of :func:`study_stems` that have rows: the learners over their seeds against the targets,
    with the R² of :data:`STUDY_PROPERTIES` from ``knowledge.csv`` (:func:`diagnose`) where it diagnosed that space
    (seed 0's encoders: ``diagnose --encoders checkpoints/ablation/<learner>``; NaN otherwise)."""
    from .ablation import default_out

    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    table = seed_table(study_stems(), folder)
    have = table.groupby(level="stem", sort=False)["seeds"].apply(lambda s: (s != "").any())
    table = table.loc[[stem for stem in have.index if have[stem]]].copy()
    known = read(folder) if (folder / KNOWLEDGE_FILE).is_file() else pd.DataFrame()
    learners_out = env.repo_relative(default_out())

    def space(stem: str) -> str:  # the diagnosed space of these very encoders: seed 0 of a learner, or eGeMAPS
        # (the ablation's report / default rows come from checkpoints/ablation/<variant>, not from the encoders
        # the diagnostic reads for "report's recipe" and "default encoder": no R² beside them)
        base, stats = (stem[:-len("_stats")], True) if stem.endswith("_stats") else (stem, False)
        if base == baseline_stem("egemaps", "logreg"):
            return EGEMAPS
        return f"{learners_out}/{base[len('ssl_'):]}" + (", statistics read-out" if stats else "")

    for prop in STUDY_PROPERTIES:
        r2 = {stem: known.loc[space(stem), prop] if space(stem) in known.index and prop in known else np.nan
              for stem in table.index.get_level_values("stem")}
        table[f"R² {prop}"] = [r2[stem] for stem in table.index.get_level_values("stem")]
    return table

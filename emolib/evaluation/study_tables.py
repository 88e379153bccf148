"""The studies' tables as Markdown: each study computes its summary (:func:`emolib.studies.ablation.summary`,
:func:`emolib.systems.fusion.summary`, :func:`emolib.studies.learners.study_table`, …); this module only lays them
out, for the ``--table`` flags of the commands and the generated pages (:mod:`emolib.app.pages`).
"""
from __future__ import annotations

import pandas as pd


def ablation_markdown(table: pd.DataFrame) -> str:
    """:func:`emolib.studies.ablation.summary` as Markdown, UARs and accuracies in %."""
    head = ["variant", "options", "encoder", "probe UAR", "probe UAR, speaker-normalised", "5-NN speaker acc.",
            "5-NN emotion UAR", "pretrained on"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in table.iterrows():
        options = ", ".join(f"{k}={v}" for k, v in r.options.items()) or "(the report's recipe)"
        raw = f"{100 * r.uar:.1f} %" + (" ‡" if r.raw_is_speaker_normalised else "")
        lines.append(f"| {name} | {options} | {r.encoder} | {raw} | {100 * r.uar_spknorm:.1f} % | "
                     f"{100 * r.speaker_5nn:.1f} % | {100 * r.emotion_5nn_uar:.1f} % | {r.device} |")
    return "\n".join(lines)


def seeds_markdown(table: pd.DataFrame) -> str:
    """:func:`emolib.studies.ablation.seed_summary` as Markdown (mean ± sd over seeds, in %)."""
    head = ["variant", "seeds", "probe UAR", "probe UAR, speaker-normalised", "5-NN speaker acc.", "5-NN emotion UAR"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, r in table.iterrows():
        raw = f"{100 * r.uar:.1f} ± {100 * r.uar_sd:.1f}" + (" ‡" if r.raw_is_speaker_normalised else "")
        lines.append(f"| {name} | {r.seeds} | {raw} | {100 * r.uar_spknorm:.1f} ± {100 * r.uar_spknorm_sd:.1f} | "
                     f"{100 * r.speaker_5nn:.1f} | {100 * r.emotion_5nn_uar:.1f} |")
    return "\n".join(lines)


def fusion_markdown(table: pd.DataFrame) -> str:
    """:func:`emolib.systems.fusion.summary` as Markdown (one decimal)."""
    lines = ["| " + " | ".join(table.columns) + " |", "|---|" + "---:|" * (len(table.columns) - 1)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines)


def emobox_markdown(table: pd.DataFrame) -> str:
    """:func:`emolib.studies.emobox.comparison` as Markdown (one decimal, blank where a row is missing)."""
    cols = list(table.columns)
    lines = ["| system | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for system, r in table.iterrows():
        cells = ["" if pd.isna(v) else (f"{v:+.1f}" if "gain" in c else f"{v:.1f}") for c, v in r.items()]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def robustness_markdown(table: pd.DataFrame) -> str:
    """:func:`emolib.studies.robustness.table` as Markdown (UAR in %, one decimal; the last column the drop)."""
    cols = list(table.columns)
    lines = ["| system | training | " + " | ".join(c.replace("_", " ") for c in cols) + " |",
             "|---|---|" + "---:|" * len(cols)]
    for (system, training), r in table.iterrows():
        cells = ["" if pd.isna(v) else f"{v:.1f}" for v in r]
        lines.append(f"| {system} | {training} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def knowledge_markdown(table: pd.DataFrame) -> str:
    """What each embedding knows (:func:`emolib.studies.learners.diagnose`'s table) as Markdown: R² of each
    property read back on held-out speakers, 5-NN speaker accuracy and the probe's UAR in % ("" where no row;
    ‡: the "raw" row of an encoder on per-speaker inputs, speaker-normalised already)."""
    pct = {"speaker 5-NN", "UAR raw", "UAR spk-norm"}
    marked = table.get("raw is speaker-normalised", pd.Series(False, index=table.index)).astype(bool)
    table = table.drop(columns=["raw is speaker-normalised"], errors="ignore")
    cols = [c for c in table.columns if c not in pct] + [c for c in table.columns if c in pct]
    lines = ["| space | " + " | ".join(f"{c} {'(%)' if c in pct else '(R²)'}" for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for name, r in table[cols].iterrows():
        cells = ["" if pd.isna(r[c]) else (f"{100 * r[c]:.1f}" if c in pct else f"{r[c]:.2f}")
                 + (" ‡" if c == "UAR raw" and marked[name] and pd.notna(r[c]) else "") for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def learners_markdown(table: pd.DataFrame) -> str:
    """:func:`emolib.studies.learners.study_table` as Markdown: per stem, its seeds and the probe UAR raw and
    speaker-normalised (mean ± sd over seeds, %; ‡: "raw" rows that are speaker-normalised already, an encoder on
    per-speaker inputs), the 5-NN speaker accuracy where measured, the diagnostic's R² columns where the table has
    them (``R² <property>``), and whether the mean of three or more seeds clears the target."""
    r2 = [c for c in table.columns if c.startswith("R² ")]
    head = ["rows", "seeds", "UAR raw (%)", "UAR spk-norm (%)", "5-NN speaker (%)", *r2, "targets reached"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (3 + len(r2)) + "---|"]

    def cell(r) -> str:
        if pd.isna(r.uar_mean):
            return ""
        return f"{100 * r.uar_mean:.1f}" + (f" ± {100 * r.uar_sd:.1f}" if pd.notna(r.uar_sd) else "") + (
            " ‡" if not r.name[1] and r.rows_speaker_normalised else "")

    for stem in table.index.get_level_values("stem").unique():
        raw, norm = table.loc[(stem, False)], table.loc[(stem, True)]
        speaker = raw.speaker_5nn if pd.notna(raw.speaker_5nn) else norm.speaker_5nn
        reached = ", ".join(w for w, r in (("raw", raw), ("spk-norm", norm)) if r.reached) or (
            "reference" if stem.startswith("baseline_") else "no")
        known = "".join(f" {'' if pd.isna(raw[c]) else f'{raw[c]:.2f}'} |" for c in r2)
        lines.append(f"| {stem} | {raw.seeds or norm.seeds} | {cell(raw)} | {cell(norm)} | "
                     f"{'' if pd.isna(speaker) else f'{100 * speaker:.1f}'} |{known} {reached} |")
    return "\n".join(lines)

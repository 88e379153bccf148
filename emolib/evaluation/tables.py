"""The tables drawn from the results rows as a whole, as text or Markdown.

- :func:`headline`: the best SI-5 row of each system family, raw and speaker-normalised, beside the
  report's quoted numbers — what ``python -m emolib results`` prints first and the README opens with;
- :func:`results_table` / :func:`text` / :func:`markdown_table`: every row (``results --all``, the
  generated ``results/README.md``);
- :func:`probes_markdown` (notebook 04), :func:`calibration_table` and :func:`timings_markdown` (``reproduce``'s
  run times).

The studies' own tables (ablation, seeds, fusion, EmoBox, robustness, the learners') are laid out by
:mod:`emolib.evaluation.study_tables`.
"""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import budgets, env
from ..data import splits
from ..models.archs import CNNS
from .results import REPORT_ROWS, row_f1, row_paths
from .runs import SCRATCH_STEM, RunName, encoder_prefix, finetune_stem, probe_stem

TABLE_COLUMNS = ["method", "protocol", "profile", "corpus", "speaker_norm", "uar", "wa", "f1",
                 "fold UAR (mean ± std)", "n", "wall_s", "device", "run"]
#: ``results --protocol`` choices, in the order the table shows them: speaker-independent runs
#: (SI-5, LOSO), EmoBox's speaker-dependent folds, the leaky random split (and the report's quotes).
TABLE_PROTOCOLS = ("si5", "emobox", "leaky")


def _rows(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in row_paths(folder)]


def protocol_key(protocol: str) -> str:
    """A row's protocol name -> its ``results --protocol`` choice (:data:`TABLE_PROTOCOLS`)."""
    try:
        pid = splits.protocol_id(protocol)
    except ValueError:  # the report's leaky split, and its quoted numbers
        return "leaky"
    return "si5" if pid in splits.SPEAKER_INDEPENDENT else pid


# --- the headline -----------------------------------------------------------------------------------

def _cnn(row: dict) -> bool:
    """A row of a CNN encoder (:data:`emolib.models.archs.CNNS`)."""
    return row["config"].get("encoder", {}).get("arch") in CNNS


#: The system families of the headline: (name, does a row belong to it).  Each shows its best SI-5 row,
#: raw and speaker-normalised.
FAMILIES = (
    ("ComParE_2016 functionals + linear classifier", lambda r: r["run"].startswith("baseline_compare_")),
    ("eGeMAPSv02 functionals + linear classifier", lambda r: r["run"].startswith("baseline_egemaps_")),
    ("stacked fusion of the systems", lambda r: r["run"].startswith("fusion_")),
    ("the report's Conv1D, 173 descriptors", lambda r: r["run"].startswith("cnn_si5_")),
    ("self-supervised ViT (MoCo v3; masked, signal targets), linear probe",
     lambda r: r["run"].startswith(("moco", "ssl_")) and not _cnn(r)
     and "finetune" not in r["run"] and "members" not in r["config"].get("encoder", {})),
    ("self-supervised small CNN (timm ResNet; MoCo v3, signal targets), linear probe",
     lambda r: r["run"].startswith(("moco", "ssl_")) and _cnn(r) and "finetune" not in r["run"]),
    ("MoCo v3 ViTs side by side, linear probe", lambda r: "members" in r["config"].get("encoder", {})),
    ("MoCo v3 ViT fine-tuned end to end", lambda r: r["run"].startswith("moco") and r["run"].endswith("finetune")),
    ("the same ViT trained from scratch", lambda r: r["run"] == SCRATCH_STEM),
    ("random-weight ViT, linear probe", lambda r: r["run"].startswith("vit_random_")),
)
#: The report's numbers the headline quotes (accuracy on its leaky random segment split).
HEADLINE_QUOTES = (("the report: MoCo v3 ViT, linear probe", 0), ("the report: Conv1D, 1024 ms segments", 4))


def headline(folder: Path | None = None) -> pd.DataFrame:
    """One line per system family (:data:`FAMILIES`): its best SI-5 row without and with speaker
    normalisation (UAR in %, and the run), then the report's quoted accuracies.  The best row of a family
    is chosen after seeing the test folds: a summary of what was measured, not a pre-registered system."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    rows = [r for r in _rows(folder) if r["protocol"] == "SI-5"]
    lines = []
    for family, member in FAMILIES:
        line = {"system": family}
        for norm, col in ((False, "raw"), (True, "speaker-normalised")):
            found = [r for r in rows if member(r) and r["speaker_norm"] == norm]
            best = max(found, key=lambda r: r["uar"]) if found else None
            line[f"UAR {col}"] = 100 * best["uar"] if best else np.nan
            line[f"run {col}"] = best["run"] if best else ""
        lines.append(line)
    for what, i in HEADLINE_QUOTES:
        lines.append({"system": what, "UAR raw": np.nan, "run raw": f"{100 * REPORT_ROWS[i]['wa']:.1f} % accuracy, "
                      "random segment split (leaky), quoted", "UAR speaker-normalised": np.nan,
                      "run speaker-normalised": ""})
    return pd.DataFrame(lines)


def _pct(v) -> str:
    return "" if pd.isna(v) else f"{v:.1f} %"


def headline_markdown(table: pd.DataFrame) -> str:
    """:func:`headline` as the README's Markdown table."""
    lines = ["| system | SI-5 UAR, raw | SI-5 UAR, speaker-normalised |", "|---|---|---|"]
    for r in table.itertuples(index=False):
        raw = f"**{_pct(r[1])}** `{r[2]}`" if pd.notna(r[1]) else r[2]
        spk = f"**{_pct(r[3])}** `{r[4]}`" if pd.notna(r[3]) else r[4]
        lines.append(f"| {r[0]} | {raw} | {spk} |")
    return "\n".join(lines)


def headline_text(table: pd.DataFrame, width: int = 120) -> str:
    """:func:`headline` as fixed-width text: one line per family with its two UARs, one with its best rows
    (at most ``width`` columns)."""
    name_w = max(len(s) for s in table.system)
    lines = [f"{'system':<{name_w}}  {'raw':>7}  {'speaker-normalised':>18}"]
    for r in table.itertuples(index=False):
        if pd.isna(r[1]) and pd.isna(r[3]) and not r[4]:  # a quoted number
            lines.append(f"{r[0]:<{name_w}}  {r[2]}"[:width])
            continue
        lines.append(f"{r[0]:<{name_w}}  {_pct(r[1]) or '—':>7}  {_pct(r[3]) or '—':>18}")
        rows = "   ".join(x for x in (r[2], r[4] and f"{r[4]}") if x)
        lines.append(f"  best rows: {rows}"[:width])
    return "\n".join(lines)


def overview(folder: Path | None = None) -> str:
    """What ``python -m emolib results`` prints by default: the :func:`headline` of the rows in ``folder``
    (default: this corpus and profile), where they are, and how to see the rest (at most 40 lines)."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    n = len(row_paths(folder))
    where = env.repo_relative(folder)
    if not n:
        return f"no runs yet in {where}/: python -m emolib reproduce (or --profile smoke for a quick run)"
    return "\n".join([
        f"{n} runs in {where}/. The best SI-5 row of each system family, UAR in % (the best is",
        "picked after seeing the test folds: a summary of what was measured, not a pre-registered result):", "",
        headline_text(headline(folder)), "",
        "raw: no statistics of the test speakers; speaker-normalised: each speaker's features standardised",
        "with that speaker's own unlabelled audio.",
        "Every row: python -m emolib results --all (--protocol si5|emobox|leaky); some: python -m emolib",
        "results 'ssl_warp*'; each checked against its predictions: python -m emolib results --verify"])


# --- every row ------------------------------------------------------------------------------------

def results_table(folder: Path | None = None, quoted: bool = True, pattern: str | None = None) -> pd.DataFrame:
    """All runs in ``folder`` (default: this corpus and profile) whose name matches the shell-style
    ``pattern`` (all by default), plus the report's quoted numbers (without a pattern).  Rows written
    before macro-F1 was stored get it from their predictions."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    rows = [r for r in _rows(folder) if pattern is None or fnmatch.fnmatchcase(r["run"], pattern)]
    for r in rows:
        if "f1" not in r:  # rows from before F1 was stored
            r["f1"] = row_f1(r, folder)
        f = r["fold_uar"]
        r["fold UAR (mean ± std)"] = f"{np.mean(f):.3f} ± {np.std(f):.3f}" if len(f) > 1 else "—"
    if quoted and pattern is None:
        rows += [{"method": f"{r['method']} {r['segment']}".replace(" —", ""),
                  "protocol": "random segment split (leaky), quoted from the report",
                  "profile": "—", "corpus": "emodb", "wa": r["wa"]} for r in REPORT_ROWS]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def markdown_table(table: pd.DataFrame) -> str:
    """A :func:`results_table` as a Markdown table with every column, UAR/WA/F1 in %; the other seeds of
    one study are counted, not listed (``ablation --table --seeds`` summarises them)."""
    replicate = np.array([isinstance(r, str) and RunName.parse(r).seed > 0 for r in table.run])
    table = table[~replicate]
    cols = ["run", "method", "protocol", "speaker_norm", "uar", "wa", "f1", "fold UAR (mean ± std)", "wall_s", "device"]
    table = table[[c for c in cols if c in table]].copy()
    for c in ("uar", "wa", "f1"):
        table[c] = [f"{100 * v:.1f} %" if pd.notna(v) else "" for v in table[c]]
    table["speaker_norm"] = table.speaker_norm.map({True: "yes", False: "no"}).fillna("")
    table["wall_s"] = [f"{v:.0f}" if pd.notna(v) else "" for v in table.wall_s]
    table["run"] = [f"`{v}`" if isinstance(v, str) else "" for v in table.run]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in row.astype(object).fillna("")) + " |"
              for _, row in table.iterrows()]
    if replicate.any():
        lines += ["", f"*{int(replicate.sum())} rows of further seeds (runs `…_seed<S>`) are not listed; "
                  "`python -m emolib ablation --table --seeds` summarises them.*"]
    return "\n".join(lines)


def text(table: pd.DataFrame, protocol: str | None = None, sort: str = "uar") -> str:
    """A :func:`results_table` as fixed-width text, one run a line (at most 120 columns, UAR/WA/F1 in %),
    speaker-independent runs first; ``protocol`` (``si5``, ``emobox``, ``leaky``) keeps only those runs;
    ``sort``: ``uar``, ``wa`` (best first) or ``run``."""
    if protocol:
        table = table[[protocol_key(p) == protocol for p in table.protocol]]
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
        lines.append((protocol_key(r["protocol"]), quoted,
                      f"{r['method']}, quoted from the report" if quoted else r["run"],
                      r["protocol"] if r["protocol"] in ("SI-5", "LOSO") else protocol_key(r["protocol"]),
                      "—" if quoted else ("yes" if r["speaker_norm"] else "no"),
                      r["uar"], r["wa"], r["f1"], fold, "" if pd.isna(r["n"]) else str(int(r["n"]))))
    key = {"uar": lambda x: -(x[5] if pd.notna(x[5]) else -1), "wa": lambda x: -(x[6] if pd.notna(x[6]) else -1),
           "run": lambda x: x[2]}[sort]
    lines.sort(key=lambda x: (TABLE_PROTOCOLS.index(x[0]), x[1], key(x)))
    width = min(60, max(len(x[2]) for x in lines)) if lines else 3
    out = [f"{'run':<{width}}  {'proto':<6}  {'norm':<4}  {'UAR':>5}  {'WA':>5}  {'F1':>5}  {'fold UAR':<13}  {'n':>4}"]
    for _, _, run, proto, norm, u, w, f1, fold, n in lines:
        run = run if len(run) <= width else run[:width - 1] + "…"
        out.append(f"{run:<{width}}  {proto:<6}  {norm:<4}  {pct(u)}  {pct(w)}  {pct(f1)}  {fold:<13}  {n:>4}")
    return "\n".join(out)


# --- the studies' tables ------------------------------------------------------------------------------

def probe_rows() -> list[tuple[str, str, str]]:
    """Notebook 04's rows: (encoder and read-out, probe, run; ``<run>_spknorm`` beside it).  The report's
    recipe (``moco_…``) and, when another pretext is the default (:data:`emolib.core.budgets.DEFAULT_PRETEXT`),
    the default encoder's rows."""
    from ..ssl.shortcut import VARIANTS

    encoders = [("moco", "MoCo v3, the report's recipe")]
    if budgets.DEFAULT_PRETEXT != "report":
        encoders.append((encoder_prefix(VARIANTS[budgets.DEFAULT_PRETEXT]),
                         f"MoCo v3, default encoder ({budgets.DEFAULT_PRETEXT})"))
    rows = [("random-init ViT (same shape), class token", "logistic regression", probe_stem("vit_random"))]
    for prefix, who in encoders:
        rows += [(f"{who}, class token", "logistic regression", probe_stem(prefix)),
                 (f"{who}, class token", "BatchNorm + linear (torch)", probe_stem(prefix, "torch")),
                 (f"{who}, mean of patch tokens", "logistic regression", probe_stem(prefix, readout={"pool": "mean"})),
                 (f"{who}, class tokens of the last 4 blocks", "logistic regression",
                  probe_stem(prefix, readout={"pool": "cls", "blocks": 4})),
                 (f"{who}, fine-tuned end to end", "—", finetune_stem(prefix))]
    return rows + [("same ViT from random init, same budget as the fine-tuning", "—", SCRATCH_STEM)]


def probes_markdown(folder: Path | None = None) -> str:
    """Notebook 04's probe and fine-tuning rows (:func:`probe_rows`) as Markdown: UAR without and with
    speaker normalisation, in %; ‡ marks a row whose "without" is speaker-normalised already (an encoder
    on per-speaker inputs)."""
    folder = Path(folder) if folder else env.run_dir(env.RESULTS)

    def uar(run: str, missing: str) -> str:
        path = folder / f"{run}.json"
        if not path.is_file():
            return missing
        row = json.loads(path.read_text())
        mark = " ‡" if row["speaker_norm"] and not RunName.parse(run).speaker_norm else ""
        return f"{100 * row['uar']:.1f} %{mark}"

    lines = ["| encoder and read-out | probe | UAR | with speaker norm |", "|---|---|---|---|"]
    lines += [f"| {what} | {how} | {uar(run, '—')} | {uar(str(RunName.parse(run).twin(speaker_norm=True)), '')} |"
              for what, how, run in probe_rows()]
    return "\n".join(lines)


def calibration_table(folder: Path | None = None, pattern: str | None = None) -> pd.DataFrame:
    """UAR, and NLL / ECE / Brier of the system's own probabilities and of the calibrated ones, with the
    temperatures' range: of every SI-5 row on clean audio that was calibrated (the systems, their nested runs,
    the fusions, the probes, the robustness study's clean rows), or, with ``pattern``, of every row with class
    probabilities whose name matches it (``robust_*`` for the degraded ones)."""
    folder = env.run_dir(env.RESULTS) if folder is None else Path(folder)
    lines = []
    for r in _rows(folder):
        if "ece" not in r or not fnmatch.fnmatchcase(r["run"], pattern or "*"):
            continue
        if pattern is None and ("calibration" not in r or r["protocol"] != splits.PROTOCOL_NAMES["si5"]
                                or r.get("config", {}).get("condition", "clean") != "clean"):
            continue
        c = r.get("calibration", {})
        t = c.get("temperature", [])
        lines.append({"run": r["run"], "uar": r["uar"], "nll": r["nll"], "ece": r["ece"], "brier": r["brier"],
                      "nll calibrated": c.get("nll", np.nan), "ece calibrated": c.get("ece", np.nan),
                      "brier calibrated": c.get("brier", np.nan),
                      "temperature": f"{min(t):.2f}–{max(t):.2f}" if t else ""})
    return pd.DataFrame(lines, columns=["run", "uar", "nll", "ece", "brier", "nll calibrated", "ece calibrated",
                                        "brier calibrated", "temperature"])


def calibration_markdown(table: pd.DataFrame) -> str:
    """:func:`calibration_table` as Markdown (UAR in %, the scores with three decimals)."""
    lines = ["| run | UAR | NLL | ECE | Brier | NLL, calibrated | ECE, calibrated | Brier, calibrated | temperatures |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in table.itertuples(index=False):
        cells = [f"{v:.3f}" if pd.notna(v) else "" for v in r[2:8]]
        lines.append(f"| `{r[0]}` | {100 * r[1]:.1f} % | " + " | ".join(cells) + f" | {r[8]} |")
    return "\n".join(lines)


def timings_markdown(folder: Path | None = None) -> str:
    """The run-time table of ``<folder>/timings.json`` (default: the real run's) as Markdown: one line
    per numbered notebook and profile that ran (minutes, device, feature cache, date), a total per
    profile and device, and the notebooks never timed."""
    folder = env.RESULTS if folder is None else Path(folder)
    path = folder / "timings.json"
    entries = json.loads(path.read_text()) if path.is_file() else []
    lines = ["| notebook | profile | device | feature cache | minutes | slowest code cell (minutes) | date |",
             "|---|---|---|---|---|---|---|"]
    for e in entries:
        top = (e.get("slowest_cells") or [None])[0]
        slow = f"{top['cell']}: `{top['code']}` ({top['seconds'] / 60:.1f})" if top else "not recorded"
        lines.append(f"| {e['notebook']} | {e.get('profile', '?')} | {e.get('device', '?')} | "
                     f"{e.get('cache', 'not recorded')} | {e['seconds'] / 60:.1f} | {slow.replace('|', '/')} | "
                     f"{e.get('date', '?')[:10]} |")
    totals: dict[tuple[str, str], float] = {}
    for e in entries:
        key = (e.get("profile", "?"), e.get("device", "?"))
        totals[key] = totals.get(key, 0.0) + e["seconds"]
    for (prof, dev), seconds in totals.items():
        lines.append(f"| **all timed notebooks** | {prof} | {dev} | | **{seconds / 60:.1f}** | | |")
    timed = {e["notebook"] for e in entries}
    never = [p.stem for p in env.numbered_notebooks() if p.stem not in timed]
    if never:
        lines += ["", f"Not timed yet: {', '.join(never)}."]
    return "\n".join(lines)


def minutes_sentence(folder: Path | None = None, profile: str = "full") -> str:
    """One sentence on how long the main job took: the summed minutes of ``profile``'s timed notebooks
    (``<folder>/timings.json``, written by ``reproduce``), per device, with their dates."""
    folder = env.RESULTS if folder is None else Path(folder)
    path = folder / "timings.json"
    entries = [e for e in (json.loads(path.read_text()) if path.is_file() else []) if e.get("profile") == profile]
    if not entries:
        return f"No `{profile}` run is timed yet (`python -m emolib reproduce` writes results/timings.json)."
    parts = []
    for device in dict.fromkeys(e.get("device", "?") for e in entries):
        mine = [e for e in entries if e.get("device", "?") == device]
        dates = sorted({e.get("date", "?")[:10] for e in mine})
        cold = "cold" if all(e.get("cache") == "cold" for e in mine) else "partly warm"
        parts.append(f"{sum(e['seconds'] for e in mine) / 60:.0f} minutes on {device} ({len(mine)} notebooks, "
                     f"{cold} feature cache, {', '.join(dates)})")
    return (f"The `{profile}` run of the numbered notebooks took " + "; ".join(parts)
            + " — per notebook: [results/README.md](results/README.md#run-times).")

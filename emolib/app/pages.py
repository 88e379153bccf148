"""The repository's generated pages: every table in ``README.md``, ``results/README.md``,
``docs/ablation.md`` and ``docs/learners.md`` sits between ``<!-- name: command -->`` and ``<!-- /name -->`` and is exactly
what that command prints over the real run's rows (``results/``).  :func:`update` rewrites them
(``python -m emolib results --readme``) and a test checks that none is stale, so no table is typed in.
The tables themselves are :mod:`emolib.evaluation.tables`'; the studies' summaries are the studies'."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ..core import env
from ..core.errors import EmolibError
from ..core.files import atomic_write

README = env.REPO / "README.md"
RESULTS_README = env.RESULTS / "README.md"
ABLATION = env.REPO / "docs" / "ablation.md"
LEARNERS = env.REPO / "docs" / "learners.md"

#: The pretext ablation's tables: block name -> (variants, tag, seed) of ``ablation --table``.
ABLATION_TABLES = {
    "ablation": ((), "", 0),                                               # every variant, the full profile's budget
    "ablation-vits12": (("warp", "warp_speaker_input"), "vits12_e150", 0),  # ViT-S/12, 150 epochs
    "ablation-e300": (("report", "warp", "warp_speaker_input"), "e300", 0),  # ViT-T/6, 300 epochs
    "ablation-cpu": (("report", "crop", "speaker_batches", "gender_batches", "warp", "adversary", "warp_adversary",
                      "formant", "pitch", "warp_speaker_input", "utterance_mean", "warp_utterance_mean",
                      "utterance_shape"), "cpu", 0),                                              # the 2-core CPU
    "ablation-e300-cpu": (("warp_speaker_input",), "e300_cpu", 0),         # 300 epochs on the 2-core CPU
    "ablation-e300-cpu-seed1": (("warp_speaker_input",), "e300_cpu", 1),   # the same, another seed
}
#: The tables over seeds: block name -> (variants, tag, seeds) of ``ablation --table --seeds``.
SEED_TABLES = {
    "ablation-seeds": ((), "", ()),                                         # every variant with seeds, the profile's budget
    "ablation-cpu-seeds": (("utterance_mean", "warp_utterance_mean", "utterance_shape"), "cpu", (0, 1)),  # per-file inputs
}


def _ablation_blocks(folder: Path) -> dict[str, tuple[str, Callable[[], str]]]:
    from ..evaluation import study_tables
    from ..studies import ablation

    out = {}
    for name, (variants, tag, seed) in ABLATION_TABLES.items():
        command = ("python -m emolib ablation --table" + (f" --tag {tag}" if tag else "") + (f" --seed {seed}" if seed else "")
                   + (" --variants " + " ".join(variants) if variants else ""))
        out[name] = (command, lambda v=variants, t=tag, s=seed: study_tables.ablation_markdown(
            ablation.summary(v or None, folder, tag=t, seed=s)))
    for name, (variants, tag, seeds) in SEED_TABLES.items():
        command = ("python -m emolib ablation --table --seeds" + "".join(f" {s}" for s in seeds)
                   + (f" --tag {tag}" if tag else "") + (" --variants " + " ".join(variants) if variants else ""))
        out[name] = (command, lambda v=variants, t=tag, s=seeds: study_tables.seeds_markdown(
            ablation.seed_summary(v or None, s or None, folder=folder, tag=t)))
    return out


def blocks(folder: Path | None = None) -> dict[Path, dict[str, tuple[str, Callable[[], str]]]]:
    """``{page: {name: (command, render)}}`` of every generated table, from the rows in ``folder``
    (default: the real run's, ``results/``, whatever the profile)."""
    from ..evaluation import study_tables, tables
    from ..studies import emobox, learners, robustness
    from ..systems import fusion

    folder = env.RESULTS if folder is None else Path(folder)
    headline = ("python -m emolib results --headline", lambda: tables.headline_markdown(tables.headline(folder)))
    return {
        README: {"headline": headline,
                 "minutes": ("python -m emolib results --timings --total", lambda: tables.minutes_sentence(folder))},
        RESULTS_README: {
            "headline": headline,
            "probes": ("python -m emolib results --probes", lambda: tables.probes_markdown(folder)),
            "fusion": ("python -m emolib fusion --table", lambda: study_tables.fusion_markdown(fusion.summary("si5", folder))),
            "fusion-emobox": ("python -m emolib fusion --table --protocol emobox",
                              lambda: study_tables.fusion_markdown(fusion.summary("emobox", folder))),
            "calibration": ("python -m emolib results --calibration",
                            lambda: tables.calibration_markdown(tables.calibration_table(folder))),
            "robustness": ("python -m emolib robustness --table",
                           lambda: study_tables.robustness_markdown(robustness.table(folder))),
            "emobox": ("python -m emolib emobox --table", lambda: study_tables.emobox_markdown(emobox.comparison(folder))),
            "timings": ("python -m emolib results --timings", lambda: tables.timings_markdown(folder)),
            "results": ("python -m emolib results --markdown",
                        lambda: tables.markdown_table(tables.results_table(folder))),
        },
        ABLATION: {**_ablation_blocks(folder), "recipe-e150": (
            "python -m emolib results moco_e150_* --markdown",
            lambda: tables.markdown_table(tables.results_table(folder, pattern="moco_e150_*")))},
        LEARNERS: {"knowledge": ("python -m emolib diagnose --table",
                                 lambda: study_tables.knowledge_markdown(learners.read(folder))),
                   "learners": ("python -m emolib ablation --table --learners",
                                lambda: study_tables.learners_markdown(learners.study_table(folder)))},
    }


def _pattern(name: str, command: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}: {re.escape(command)} -->\n)(.*?)(<!-- /{name} -->)", re.S)


def _page(path: Path, pages: dict, page: Path | None) -> dict:
    """The blocks of ``page`` (default: ``path`` itself, one of :func:`blocks`' pages)."""
    page = Path(page or path)
    if page not in pages:
        raise EmolibError(f"{page}: not a generated page; choose one of {', '.join(map(env.repo_relative, pages))}")
    return pages[page]


def stale(path: Path = README, text: str | None = None, folder: Path | None = None,
          page: Path | None = None) -> list[str]:
    """The names of the blocks of ``path`` (its ``text``, default: as on disk) whose text differs from what
    their command prints (or that are missing); ``page``: which page ``path`` is a copy of (default: itself)."""
    text = Path(path).read_text() if text is None else text
    out = []
    for name, (command, render) in _page(path, blocks(folder), page).items():
        found = _pattern(name, command).search(text)
        if found is None or found.group(2).strip() != render().strip():
            out.append(name)
    return out


def update(paths: list[Path] | None = None, folder: Path | None = None, page: Path | None = None) -> list[str]:
    """Rewrite the generated blocks of ``paths`` (default: every page) in place, atomically; returns the
    ``page: block`` names that changed (``page``: which page the ``paths`` are copies of, default themselves).
    A block whose markers are missing is an error naming it."""
    env.require_checkout("README.md or results/")
    pages = blocks(folder)
    changed = []
    for path in paths or list(pages):
        path = Path(path)
        text = path.read_text()
        for name, (command, render) in _page(path, pages, page).items():
            pattern = _pattern(name, command)
            if not pattern.search(text):
                raise EmolibError(f"{path}: no block <!-- {name}: {command} --> … <!-- /{name} -->; add its markers")
            table = render()
            new = pattern.sub(lambda m: m.group(1) + table.strip() + "\n" + m.group(3), text)
            if new != text:
                changed.append(f"{env.repo_relative(path)}: {name}")
                text = new
        if changed and any(c.startswith(env.repo_relative(path)) for c in changed):
            atomic_write(path, text.encode())
    return changed

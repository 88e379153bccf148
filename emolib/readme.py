"""The README's generated tables.  Each sits between ``<!-- name: command -->`` and
``<!-- /name -->`` and is exactly what that command prints over the real run's rows
(``results/``); :func:`update` rewrites them (``python -m emolib results --readme``) and a test
checks that none is stale, so no table in the README is typed in."""
from __future__ import annotations

import re
from pathlib import Path

from . import config
from .files import atomic_write

README = config.REPO / "README.md"
#: The pretext ablation's tables in the README: block name -> (variants, tag) of ``ablation --table``.
ABLATION_TABLES = {
    "ablation": ((), ""),                                               # every variant, the full profile's budget
    "ablation-vits12": (("warp", "warp_speaker_input"), "vits12_e150"),  # ViT-S/12, 150 epochs
    "ablation-e300": (("report", "warp", "warp_speaker_input"), "e300"),  # ViT-T/6, 300 epochs
    "ablation-cpu": (("report", "crop", "speaker_batches", "gender_batches", "warp", "adversary", "warp_adversary",
                      "formant", "pitch", "warp_speaker_input", "utterance_mean", "warp_utterance_mean",
                      "utterance_shape"), "cpu"),                                              # the 2-core CPU
    "ablation-e300-cpu": (("warp_speaker_input",), "e300_cpu"),           # 300 epochs on the 2-core CPU
    "ablation-e300-cpu-seed1": (("warp_speaker_input",), "e300_cpu_seed1"),  # the same, another seed
}

#: the README's tables over seeds at a tagged budget: name -> (variants, tag, seeds)
SEED_TABLES = {
    "ablation-cpu-seeds": (("utterance_mean", "warp_utterance_mean", "utterance_shape"), "cpu", (0, 1)),  # per-file inputs
}


def blocks(folder: Path | None = None) -> dict[str, tuple[str, str]]:
    """``{name: (command, text)}`` of every generated table, from the rows in ``folder``
    (default: the real run's, ``results/``, whatever the profile)."""
    from .results import markdown_table, results_table
    from . import ablation, emobox, fusion
    from .probes import readme_table
    from .reproduce import timings_table

    folder = config.RESULTS if folder is None else Path(folder)
    out = {"timings": ("python -m emolib results --timings", timings_table(folder)),
           "results": ("python -m emolib results --markdown", markdown_table(results_table(folder))),
           "probes": ("python -m emolib results --probes", readme_table(folder))}
    for name, (variants, tag) in ABLATION_TABLES.items():
        command = "python -m emolib ablation --table" + (f" --tag {tag}" if tag else "")
        command += (" --variants " + " ".join(variants)) if variants else ""
        out[name] = (command, ablation.markdown(ablation.summary(variants or None, folder, tag=tag)))
    out["ablation-seeds"] = ("python -m emolib ablation --table --seeds",
                             ablation.seed_markdown(ablation.seed_summary(folder=folder)))
    for name, (variants, tag, seeds) in SEED_TABLES.items():
        command = (f"python -m emolib ablation --table --seeds {' '.join(map(str, seeds))} --tag {tag} "
                   f"--variants {' '.join(variants)}")
        out[name] = (command, ablation.seed_markdown(ablation.seed_summary(variants, seeds, folder=folder, tag=tag)))
    out["fusion"] = ("python -m emolib fusion --table", fusion.markdown(fusion.summary("si5", folder)))
    out["fusion-emobox"] = ("python -m emolib fusion --table --protocol emobox",
                            fusion.markdown(fusion.summary("emobox", folder)))
    out["emobox"] = ("python -m emolib emobox --table", emobox.markdown(emobox.comparison(folder)))
    return out


def _pattern(name: str, command: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}: {re.escape(command)} -->\n)(.*?)(\n<!-- /{name} -->)", re.S)


def stale(text: str, folder: Path | None = None) -> list[str]:
    """The names of the blocks whose text differs from what their command prints (or that are missing)."""
    out = []
    for name, (command, table) in blocks(folder).items():
        found = _pattern(name, command).search(text)
        if found is None or found.group(2).strip() != table.strip():
            out.append(name)
    return out


def update(path: Path = README, folder: Path | None = None) -> list[str]:
    """Rewrite the generated blocks of ``path`` in place (atomically); returns the names that changed.
    A block whose markers are missing is an error naming it."""
    config.require_checkout("README.md or results/")
    text = path.read_text()
    changed = []
    for name, (command, table) in blocks(folder).items():
        pattern = _pattern(name, command)
        if not pattern.search(text):
            from .errors import EmolibError

            raise EmolibError(f"{path}: no block <!-- {name}: {command} --> … <!-- /{name} -->; add its markers")
        new = pattern.sub(lambda m: m.group(1) + table.strip() + m.group(3), text)
        if new != text:
            changed.append(name)
            text = new
    if changed:
        atomic_write(path, text.encode())
    return changed

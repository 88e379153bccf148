"""The main job: execute the numbered notebooks in order (docs/design.md).

The notebooks are the pipeline; this only runs them (nbclient, one kernel per notebook,
with ``EMOLIB_PROFILE`` and ``EMOLIB_CORPUS`` set for the kernel), shows a progress bar of
cells per notebook, and writes each executed notebook back atomically.  A notebook whose
cell fails is left as it was on disk, and the run stops with the failing cell named.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from . import config
from .config import NOTEBOOKS, REPO, figures_dir
from .evaluation import print_results
from .files import atomic_write


def numbered_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """``NN_name.ipynb`` files in ``folder``, in numeric order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, env: dict[str, str], out: Path | None = None,
                     timeout: int = 7200) -> None:
    """Execute ``path`` top to bottom in its own folder; write the result atomically to
    ``out`` (default: back to ``path``)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    with tqdm(total=n_code, desc=path.stem, unit="cell") as bar:
        # no widget state: it would store the players' audio (EmoDB) inside the notebook
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                store_widget_state=False, resources={"metadata": {"path": str(path.parent)}},
                                on_cell_executed=lambda cell, **_: bar.update(cell.cell_type == "code"))
        try:
            client.execute(env={**os.environ, **env})
        except CellExecutionError as e:
            raise RuntimeError(f"{path.name}: a cell failed; the notebook on disk is unchanged.\n{e}") from None
    atomic_write(path if out is None else out, (nbformat.writes(nb) + "\n").encode("utf-8"))


def reproduce(profile: str | None = None, corpus: str | None = None,
              notebooks: list[Path] | None = None) -> int:
    """Run the numbered notebooks in order; returns a process exit status.

    Only the real run (EmoDB, ``full`` profile) executes the notebooks in place.  Any other
    run writes the executed copies to ``build/<corpus>-<profile>/`` (figures and results to
    their own subfolders too), so a smoke run or a demo never overwrites committed files.
    """
    env = {"EMOLIB_PROFILE": config.profile(profile), "EMOLIB_CORPUS": config.corpus_name(corpus)}
    if os.environ.get("EMODB_ROOT"):  # kernels run in notebooks/: make a relative path absolute
        env["EMODB_ROOT"] = str(Path(os.environ["EMODB_ROOT"]).resolve())
    notebooks = numbered_notebooks() if notebooks is None else notebooks
    if not notebooks:
        print(f"no numbered notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    in_place = env["EMOLIB_CORPUS"] == "emodb" and env["EMOLIB_PROFILE"] == "full"
    out_dir = None if in_place else REPO / "build" / f"{env['EMOLIB_CORPUS']}-{env['EMOLIB_PROFILE']}"
    print(f"profile={env['EMOLIB_PROFILE']} corpus={env['EMOLIB_CORPUS']}: "
          f"{len(notebooks)} notebook(s)")
    for path in notebooks:
        try:
            execute_notebook(path, env, out=None if in_place else out_dir / path.name)
        except RuntimeError as e:
            print(str(e), file=sys.stderr)
            return 1
    figures = figures_dir(env["EMOLIB_CORPUS"], env["EMOLIB_PROFILE"])
    print(f"done: executed notebooks in {out_dir or NOTEBOOKS}; "
          f"{len(list(figures.glob('*.png')))} figure(s) in {figures}")
    print_results(env["EMOLIB_CORPUS"], env["EMOLIB_PROFILE"])
    return 0

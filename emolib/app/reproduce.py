"""The main job: execute the numbered notebooks in order (docs/design.md).

The notebooks are the pipeline; this only runs them (nbclient, one kernel per notebook,
with ``EMOLIB_PROFILE`` and ``EMOLIB_CORPUS`` set for the kernel), shows a progress bar of
cells per notebook, prints each notebook's wall time and the total, and writes each executed
notebook back atomically.  A notebook whose cell fails, runs past the profile's per-cell timeout
(:data:`CELL_TIMEOUT`) or whose kernel dies is left as it was on disk, and the run stops with one
line naming the notebook and the cell.  Each finished notebook's time is recorded in
``<results>/timings.json`` (notebook, profile, corpus, device, feature cache warm or cold when the
run started, seconds, date, its three slowest code cells; :func:`emolib.evaluation.tables.timings_markdown` prints it for
results/README.md); ``only`` / ``start`` run part of the pipeline (``--only 04``, ``--from 03``).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from ..core import budgets, env, steps
from ..core.env import NOTEBOOKS, REPO, figures_dir
from ..core.errors import EmolibError
from ..core.files import atomic_write
from ..evaluation.tables import overview

#: The per-cell timeout of each profile, in seconds (:data:`emolib.core.budgets.CELL_TIMEOUT`).
CELL_TIMEOUT = budgets.CELL_TIMEOUT


def execute_notebook(path: Path, kernel_env: dict[str, str], out: Path | None = None,
                     timeout: int = CELL_TIMEOUT["full"]) -> list[dict]:
    """Execute ``path`` top to bottom in its own folder; write the result atomically to
    ``out`` (default: back to ``path``).  A failing cell, a cell past ``timeout`` seconds or a dead
    kernel raise RuntimeError naming the notebook and the cell; the file is left unchanged.
    Returns the code cells' wall times: ``{"cell": n (1-based among code cells), "seconds", "code"
    (its first line that is not a marker or a comment)}``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    cells, last = [], [time.perf_counter()]

    def executed(cell, **_):  # nbclient calls this after each cell; code cells are timed and counted
        now = time.perf_counter()
        if cell.cell_type == "code":
            code = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
            cells.append({"cell": len(cells) + 1, "seconds": round(now - last[0], 1), "code": code[:80]})
            bar.update()
        last[0] = now

    with tqdm(total=n_code, desc=path.stem, unit="cell") as bar, _StepEcho(bar) as echo:
        # no widget state: it would store the players' audio (EmoDB) inside the notebook; no timing
        # metadata either (it would change every committed cell on every run): the times are returned
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                store_widget_state=False, resources={"metadata": {"path": str(path.parent)}},
                                on_cell_executed=executed)
        try:
            client.execute(env={**os.environ, **kernel_env, steps.ENV: str(echo.path)})
        except CellExecutionError as e:
            raise RuntimeError(f"{path.name}: a cell failed; the notebook on disk is unchanged.\n{e}") from None
        except CellTimeoutError:
            raise RuntimeError(f"{path.name}: code cell {bar.n + 1} of {n_code} ran past the {timeout} s cell "
                               "timeout; the notebook on disk is unchanged") from None
        except DeadKernelError:
            raise RuntimeError(f"{path.name}: the kernel died in code cell {bar.n + 1} of {n_code} (out of memory?); "
                               "the notebook on disk is unchanged") from None
    atomic_write(path if out is None else out, (nbformat.writes(nb) + "\n").encode("utf-8"))
    return cells


class _StepEcho:
    """Prints the kernel's training lines (:mod:`emolib.core.steps`) under the progress bar as they come,
    each with the notebook's elapsed time; the log lives in a temporary folder."""

    def __init__(self, bar, every: float = 0.5):
        self.bar, self.every = bar, every

    def __enter__(self):
        import tempfile
        import threading

        self._dir = tempfile.TemporaryDirectory(prefix="emolib-steps-")
        self.path = Path(self._dir.name) / "steps.log"
        self.path.touch()
        self._start, self._seen, self._stop = time.perf_counter(), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _echo(self) -> None:
        text = self.path.read_text(encoding="utf-8", errors="replace")
        end = text.rfind("\n") + 1  # whole lines only; a line being written waits for the next look
        for line in text[self._seen:end].splitlines():
            minutes, seconds = divmod(int(time.perf_counter() - self._start), 60)
            self.bar.write(f"  {minutes:3d}:{seconds:02d}  {line}")
        self._seen = max(self._seen, end)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._echo()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._echo()
        self._dir.cleanup()


def select(notebooks: Sequence[Path], only: Sequence[str] = (), start: str | None = None) -> list[Path]:
    """The notebooks ``only`` names (by number, ``04``, or name) or those from ``start`` on; a name
    that matches none is a one-line error listing the notebooks."""
    def number(p: Path) -> str:
        return p.name[:2]

    def find(key: str) -> Path:
        hits = [p for p in notebooks if key in (number(p), p.stem, p.name) or number(p) == key.zfill(2)]
        if not hits:
            raise EmolibError(f"no notebook {key!r}; choose from {', '.join(p.stem for p in notebooks)}")
        return hits[0]

    if only and start:
        raise EmolibError("--only and --from exclude each other")
    if only:
        chosen = {find(k) for k in only}
        return [p for p in notebooks if p in chosen]
    if start:
        first = find(start)
        return [p for p in notebooks if number(p) >= number(first)]
    return list(notebooks)


def device(requested: str | None = None) -> str:
    """Where the notebooks' pretraining runs (``requested``, else ``EMOLIB_DEVICE``, else auto): the
    GPU's name, or ``cpu``."""
    from ..core.devices import name

    return name(requested)


def record_timing(folder: Path, entry: dict) -> None:
    """Add ``entry`` to ``<folder>/timings.json``, replacing the notebook's earlier entry of the
    same profile."""
    path = folder / "timings.json"
    try:
        entries = json.loads(path.read_text()) if path.is_file() else []
    except ValueError:
        entries = []
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "notebook" in e for e in entries):
        entries = []  # a damaged file is rewritten, never trusted
    same = lambda e: (e.get("notebook"), e.get("profile")) == (entry["notebook"], entry.get("profile"))
    entries = [e for e in entries if not same(e)] + [entry]
    entries.sort(key=lambda e: (e["notebook"], str(e.get("profile"))))
    atomic_write(path, (json.dumps(entries, indent=1) + "\n").encode())


def reproduce(profile: str | None = None, corpus: str | None = None,
              notebooks: list[Path] | None = None, only: Sequence[str] = (), start: str | None = None,
              device_request: str | None = None) -> int:
    """Run the numbered notebooks in order; returns a process exit status.

    Only the real run (EmoDB, ``full`` or ``extended`` profile) executes the notebooks in place.  Any other
    run writes the executed copies to ``build/<corpus>-<profile>/`` (figures and results to
    their own subfolders too), so a smoke run or a demo never overwrites committed files.
    """
    kernel = {"EMOLIB_PROFILE": env.profile(profile), "EMOLIB_CORPUS": env.corpus_name(corpus),
              "EMOLIB_DEVICE": env.device_request(device_request)}
    where = device(kernel["EMOLIB_DEVICE"])  # a bad --device stops here, before any notebook runs
    if notebooks is None:
        env.require_checkout("notebooks/")
    if os.environ.get("EMODB_ROOT"):  # kernels run in notebooks/: make a relative path absolute
        kernel["EMODB_ROOT"] = str(Path(os.environ["EMODB_ROOT"]).resolve())
    notebooks = select(env.numbered_notebooks() if notebooks is None else notebooks, only, start)
    if not notebooks:
        print(f"no numbered notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 1
    in_place = kernel["EMOLIB_CORPUS"] == "emodb" and env.level(kernel["EMOLIB_PROFILE"]) == "full"
    out_dir = None if in_place else REPO / "build" / f"{kernel['EMOLIB_CORPUS']}-{kernel['EMOLIB_PROFILE']}"
    timings = env.run_dir(env.RESULTS, kernel["EMOLIB_CORPUS"], kernel["EMOLIB_PROFILE"])
    print(f"profile={kernel['EMOLIB_PROFILE']} corpus={kernel['EMOLIB_CORPUS']} device={where}: "
          f"{len(notebooks)} notebook(s): {', '.join(p.stem for p in notebooks)}")
    # cold: the run started without a feature cache, so it computes every front-end (the table says which)
    cache = "warm" if any((env.cache_dir() / "features").glob("*")) else "cold"
    total = time.perf_counter()
    for path in notebooks:
        t0 = time.perf_counter()
        try:
            cells = execute_notebook(path, kernel, out=None if in_place else out_dir / path.name,
                                     timeout=CELL_TIMEOUT[kernel["EMOLIB_PROFILE"]])
        except RuntimeError as e:
            print(str(e), file=sys.stderr)
            return 1
        seconds = time.perf_counter() - t0
        slowest = sorted(cells, key=lambda c: -c["seconds"])[:3]
        print(f"{path.stem}: {seconds / 60:.1f} min" + (f" (slowest: code cell {slowest[0]['cell']}, "
              f"{slowest[0]['seconds'] / 60:.1f} min: {slowest[0]['code']})" if slowest else ""))
        record_timing(timings, {"notebook": path.stem, "profile": kernel["EMOLIB_PROFILE"],
                                "corpus": kernel["EMOLIB_CORPUS"],
                                "device": where, "cache": cache, "seconds": round(seconds, 1),
                                "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "slowest_cells": slowest})
    figures = figures_dir(kernel["EMOLIB_CORPUS"], kernel["EMOLIB_PROFILE"])
    print(f"done in {(time.perf_counter() - total) / 60:.1f} min: executed notebooks in {out_dir or NOTEBOOKS}; "
          f"{len(list(figures.glob('*.png')))} figure(s) in {figures}; times in {env.repo_relative(timings)}/timings.json")
    print(overview(env.run_dir(env.RESULTS, kernel["EMOLIB_CORPUS"], kernel["EMOLIB_PROFILE"])))
    return 0

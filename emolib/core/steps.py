"""One line per training for the main job's log (``python -m emolib reproduce``).

Library code that trains something calls :func:`step` when it finishes (what, which fold, seconds).
``reproduce`` points ``EMOLIB_STEP_LOG`` at a file for each notebook's kernel and prints the lines as
they arrive, under the notebook's progress bar.  Without the variable (Jupyter, nbval, the tests) a
step does nothing, so a notebook's outputs are the same however it runs.
"""
from __future__ import annotations

import os

#: The environment variable that names the step log.
ENV = "EMOLIB_STEP_LOG"


def step(what: str, seconds: float | None = None) -> None:
    """Append ``what`` (and ``seconds``) as one line to the step log, if there is one."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = what if seconds is None else f"{what}: {seconds:.0f} s"
    with open(path, "a", encoding="utf-8") as f:  # one short write per line: whole lines for the reader
        f.write(line.replace("\n", " ") + "\n")

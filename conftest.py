"""Loaded by pytest for tests/ and notebooks/ alike (it sits at the repository root).

- Tests run the ``smoke`` profile unless ``EMOLIB_PROFILE`` says otherwise: a plain ``pytest``
  never starts the hours-long ``full`` notebooks, and smoke runs write only under
  ``results/smoke/`` and ``figures/smoke/`` (git-ignored), never over the committed files.
- CI exports EMODB_ROOT=../shared/emodb relative to the repository root, but nbval starts the
  notebook kernels in notebooks/: hand them (and every test) the absolute path.
"""
import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent
os.environ.setdefault("EMOLIB_PROFILE", "smoke")
if os.environ.get("EMODB_ROOT") and not Path(os.environ["EMODB_ROOT"]).is_absolute():
    os.environ["EMODB_ROOT"] = str((_REPO / os.environ["EMODB_ROOT"]).resolve())

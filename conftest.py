"""Loaded by pytest for tests/ and notebooks/ alike (it sits at the repository root).

CI exports EMODB_ROOT=../shared/emodb relative to the repository root, but nbval starts the
notebook kernels in notebooks/: hand them (and every test) the absolute path.
"""
import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent
if os.environ.get("EMODB_ROOT") and not Path(os.environ["EMODB_ROOT"]).is_absolute():
    os.environ["EMODB_ROOT"] = str((_REPO / os.environ["EMODB_ROOT"]).resolve())

"""Run-wide settings read from the environment: profile, corpus and cache directory.

- ``EMOLIB_PROFILE``: ``full`` (default, the real run), ``smoke`` (same code, tiny budgets) or
  ``extended`` (``full`` plus the long studies; :mod:`emolib.core.budgets` holds every budget).
- ``EMOLIB_CORPUS``: ``emodb`` (default) or ``synthetic`` (docs/data.md; never reported as EmoDB).
- ``EMOLIB_DEVICE``: where torch pretraining runs when a command or notebook does not say:
  ``auto`` (default: the GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``
  (``reproduce --device`` sets it for the notebooks' kernels).
- ``EMOLIB_CACHE``: where downloads and feature caches go; default
  ``$XDG_CACHE_HOME/emolib`` or ``~/.cache/emolib``.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import EmolibError

#: The repository (emolib is installed editable from it), its notebooks and figures.
REPO = Path(__file__).resolve().parents[2]
#: Whether this emolib runs from a checkout (``pip install -e .``): results, figures, notebooks and
#: checkpoints live in the repository, so a copy installed elsewhere cannot write them.
FROM_CHECKOUT = (REPO / "pyproject.toml").is_file() and (REPO / "notebooks").is_dir()
NOTEBOOKS = REPO / "notebooks"
FIGURES = REPO / "figures"
RESULTS = REPO / "results"

PROFILES = ("smoke", "full", "extended")
CORPORA = ("emodb", "synthetic")


def _choice(value: str | None, env: str, default: str, allowed: tuple[str, ...]) -> str:
    value = value or os.environ.get(env) or default
    if value not in allowed:
        raise EmolibError(f"{env}/argument value {value!r} is not one of {', '.join(allowed)}")
    return value


def profile(name: str | None = None) -> str:
    """The profile to run: ``name`` if given, else ``EMOLIB_PROFILE``, else ``full``."""
    return _choice(name, "EMOLIB_PROFILE", "full", PROFILES)


def level(name: str | None = None) -> str:
    """The budget level of a profile: ``smoke``, or ``full`` for ``full`` and ``extended`` (which
    adds studies, not budgets; :mod:`emolib.core.budgets`)."""
    return "smoke" if profile(name) == "smoke" else "full"


def corpus_name(name: str | None = None) -> str:
    """The corpus to use: ``name`` if given, else ``EMOLIB_CORPUS``, else ``emodb``."""
    return _choice(name, "EMOLIB_CORPUS", "emodb", CORPORA)


def device_request(name: str | None = None) -> str:
    """The device asked for: ``name`` if given, else ``EMOLIB_DEVICE``, else ``auto`` (checked where it
    is used, :func:`emolib.core.devices.resolve`)."""
    return name or os.environ.get("EMOLIB_DEVICE") or "auto"


def cache_dir() -> Path:
    """Per-user cache directory (created on first use)."""
    if os.environ.get("EMOLIB_CACHE"):
        path = Path(os.environ["EMOLIB_CACHE"])
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "emolib"
    path.mkdir(parents=True, exist_ok=True)
    return path


def numbered_notebooks(folder: Path | None = None) -> list[Path]:
    """The pipeline's ``NN_name.ipynb`` files in ``folder`` (default: the repository's notebooks), in order."""
    return sorted(Path(folder or NOTEBOOKS).glob("[0-9][0-9]_*.ipynb"))


def repo_relative(path) -> str:
    """``path`` relative to the repository when it lies inside it (for printed and stored paths
    that must not show this machine's layout), else as given."""
    # the path as written first (a symlink inside a checkout, e.g. a git worktree's link to the main
    # checkout's checkpoints/, is still that checkout's folder), then with links resolved
    for full in (Path(os.path.abspath(path)), Path(path).resolve()):
        if full.is_relative_to(REPO):
            return str(full.relative_to(REPO))
    return str(path)


def require_checkout(what: str) -> None:
    """A one-line error when this emolib is not the repository's editable install (:data:`FROM_CHECKOUT`):
    ``what`` (e.g. ``results/``) lives in the repository, not beside an installed copy."""
    if not FROM_CHECKOUT:
        raise EmolibError(f"emolib at {REPO / 'emolib'} is not installed from its repository, so there is no "
                          f"{what} here; clone the repository and run `pip install -e .` in it")


def run_dir(base: Path, corpus: str | None = None, profile_name: str | None = None) -> Path:
    """``base`` itself for the real run (EmoDB, ``full`` or ``extended`` profile, which write the
    same rows); ``base/<corpus>-<profile>`` otherwise (e.g. ``figures/smoke``,
    ``results/synthetic-smoke``), so tests, smoke runs and demos on synthetic data never overwrite
    the committed EmoDB results."""
    if Path(base).resolve().is_relative_to(REPO):
        require_checkout(f"{Path(base).name}/")
    parts = [p for p, real in ((corpus_name(corpus), "emodb"), (level(profile_name), "full"))
             if p != real]
    return base / "-".join(parts) if parts else base


def figures_dir(corpus: str | None = None, profile_name: str | None = None) -> Path:
    """Where figures go: see :func:`run_dir`."""
    return run_dir(FIGURES, corpus, profile_name)

"""Finding EmoDB and its metadata table (:func:`load_corpus`: one row per utterance).

The corpus is found, in this order, at an explicit ``root``, at ``$EMODB_ROOT``, or in the
per-user cache (``emolib.core.env.cache_dir() / "emodb"``); when none holds it, it is downloaded
there (:mod:`emolib.data.download`, checked against the shipped SHA-256 manifest).  The corpus facts
(emotions, speakers, texts, file names) are :mod:`emolib.data.emodb`'s; ``EMOLIB_CORPUS=synthetic``
swaps in :mod:`emolib.data.synthetic`'s stand-in.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..core import env
from ..core.errors import CorpusNotFoundError, DownloadError
from .audio import describe_format
from .download import download_emodb
from .emodb import CLASSES, SPEAKERS, TEXTS, holds_wavs, parse_name, wav_dir


def find_root(root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Locate EmoDB: explicit ``root``, then ``$EMODB_ROOT``, then the cache (downloading)."""
    for given, what in ((root, "the given root"), (os.environ.get("EMODB_ROOT"), "EMODB_ROOT")):
        if given:
            if not holds_wavs(Path(given)):
                raise CorpusNotFoundError(
                    f"{given} ({what}) holds no EmoDB WAV files; point it at the folder that "
                    "contains wav/ (or the WAVs themselves)")
            return Path(given)
    cached = env.cache_dir() / "emodb"
    if holds_wavs(cached):
        return cached
    if download:
        try:
            return download_emodb(cached)
        except DownloadError as e:
            raise CorpusNotFoundError(
                f"EmoDB was not found and could not be downloaded ({e}). If you have a copy, "
                "point EMODB_ROOT at it: export EMODB_ROOT=/path/to/emodb (the folder that "
                "contains wav/)") from None
    raise CorpusNotFoundError(
        f"EmoDB was not found (no root given, EMODB_ROOT unset, nothing in {cached}). Run "
        "`python -m emolib data download`, or export EMODB_ROOT=/path/to/emodb")


def metadata(root: str | os.PathLike | None = None, download: bool = True) -> pd.DataFrame:
    """One row per utterance, sorted by file name.

    Columns: file, path, speaker, gender, age, text, sentence, gloss, emotion, letter,
    version, duration (s), sample_rate.  Raises FileNameError for a WAV named outside the
    scheme and AudioError for one that is not readable audio.
    """
    root = find_root(root, download=download) if root is None else Path(root)
    if not holds_wavs(root):
        raise CorpusNotFoundError(f"{root}: no WAV files here; expected EmoDB's wav/ folder")
    rows = []
    for path in sorted(wav_dir(root).glob("*.wav")):
        u = parse_name(path)
        info = describe_format(path)
        rows.append({
            "file": path.name, "path": str(path), "speaker": u.speaker,
            "gender": SPEAKERS[u.speaker].gender, "age": SPEAKERS[u.speaker].age,
            "text": u.text, "sentence": TEXTS[u.text][0], "gloss": TEXTS[u.text][1],
            "emotion": u.emotion, "letter": u.letter, "version": u.version,
            "duration": info.frames / info.samplerate, "sample_rate": info.samplerate,
        })
    table = pd.DataFrame(rows)
    table["emotion"] = pd.Categorical(table["emotion"], categories=CLASSES)
    table.attrs["root"] = str(root)
    return table


def load_corpus(corpus: str | None = None, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Metadata of the chosen corpus: ``emodb`` (default) or ``synthetic`` (docs/data.md).

    ``corpus`` defaults to ``$EMOLIB_CORPUS``.  The table's ``attrs["corpus"]`` says which.
    """
    name = env.corpus_name(corpus)
    if name == "synthetic":
        from .synthetic import ensure_synthetic_corpus  # imported when asked for: it needs scipy

        root = ensure_synthetic_corpus() if root is None else root
    table = metadata(root)
    table.attrs["corpus"] = name
    return table

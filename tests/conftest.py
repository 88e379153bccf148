"""Shared fixtures: the real EmoDB copy, an isolated cache, a WAV writer, random fold encoders, and a toy
metadata table."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope="session")
def emodb_root() -> Path:
    """The real EmoDB copy named by ``$EMODB_ROOT`` (relative paths are taken from the repo
    root, as CI sets ``EMODB_ROOT=../shared/emodb``).  Skips when unset; fails when it is
    set but holds no WAVs, since that is a broken setup, not a missing one."""
    value = os.environ.get("EMODB_ROOT")
    if not value:
        pytest.skip("EMODB_ROOT not set: point it at a copy of EmoDB to run the corpus tests")
    root = Path(value)
    if not root.is_absolute():
        root = REPO_ROOT / root
    root = root.resolve()
    wavs = root / "wav" if (root / "wav").is_dir() else root
    if not wavs.is_dir() or not any(wavs.glob("*.wav")):
        pytest.fail(f"EMODB_ROOT={value!r} (resolved to {root}) holds no WAV files; it must "
                    "point at the EmoDB folder that contains wav/", pytrace=False)
    return root


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Point EMOLIB_CACHE at a per-session temp dir so no test touches the user's cache."""
    cache = tmp_path_factory.mktemp("emolib-cache")
    old = os.environ.get("EMOLIB_CACHE")
    os.environ["EMOLIB_CACHE"] = str(cache)
    try:
        yield cache
    finally:
        if old is None:
            os.environ.pop("EMOLIB_CACHE", None)
        else:
            os.environ["EMOLIB_CACHE"] = old


def export_folds(meta, out, seed=0, epoch=None):
    """One random tiny encoder per SI-5 fold, with its fold's input statistics, where pretraining puts them
    (for tests of the plumbing, not of what pretraining learns)."""
    import torch

    from emolib.data.features import fit_standardizer, log_mels
    from emolib.data.splits import speaker_folds
    from emolib.models import vit
    from emolib.ssl import encoders

    tiny = vit.BackboneConfig("vit_tiny", depth=2, n_mels=64, frames=96, patch_size=16)
    mels = log_mels(meta.path, progress=False)
    for f in speaker_folds(meta, "si5"):
        torch.manual_seed(seed + f.index)
        std = fit_standardizer(mels, f)
        vit.export_backbone(vit.create_backbone(tiny), tiny, encoders.backbone_path(out, f.index, epoch),
                            vit.Normalization(std.mean.tolist(), std.std.tolist()),
                            {"fold": f.index, "epoch": epoch or 3})


def write_wav(path, y, sr, subtype="PCM_16") -> Path:
    """Write ``y`` (frames, or frames x channels) to ``path`` with soundfile; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(y), sr, subtype=subtype)
    return path


@pytest.fixture
def wav_writer():
    """The :func:`write_wav` helper, as a fixture."""
    return write_wav


@pytest.fixture
def toy_meta():
    """EmoDB's shape without audio: two utterances per speaker and emotion (file, speaker, emotion)."""
    import pandas as pd

    from emolib.data.emodb import CLASSES, SPEAKERS

    rows = [(f"{s}a01{e[0]}{v}.wav", s, e) for s in sorted(SPEAKERS) for e in CLASSES for v in "ab"]
    return pd.DataFrame(rows, columns=["file", "speaker", "emotion"])

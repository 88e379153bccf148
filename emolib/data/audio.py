"""Reading audio: 16 kHz mono float32, or a clear error naming the file.

EmoDB itself is 16 kHz, 16-bit mono.  Other files are accepted and converted explicitly:
other sample rates are resampled (soxr, high quality) and multi-channel audio is averaged
to mono.  Unreadable, truncated, empty, silent, too short or non-finite audio raises
:class:`~emolib.core.errors.AudioError` with the file name and what is wrong.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from ..core.errors import AudioError

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.25  # shorter than one syllable: nothing to recognise an emotion from
SILENCE_PEAK = 1.5 / 32768  # at most one 16-bit step away from zero


def wav_truncation(path: Path) -> str | None:
    """Describe how a RIFF/WAVE file is truncated, or None when its data chunk is complete.

    libsndfile silently reads what is there when the data chunk is shorter than its header
    says, so we walk the chunks ourselves.  Non-RIFF files are left to libsndfile.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if chunk_size == 0xFFFFFFFF:  # size left open by a streaming writer
                    return None
                have = size - pos - 8
                if chunk_size > have:
                    return f"truncated (header declares {chunk_size} audio bytes, file holds {have})"
                return None
            pos += 8 + chunk_size + (chunk_size & 1)
    return "truncated (no complete data chunk)"


def describe_format(path: Path) -> sf._SoundFileInfo:
    """soundfile's header information, or AudioError if the file is not readable audio."""
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"{path}: a folder, not an audio file; name its files (e.g. {path}/*.wav)")
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except RuntimeError as e:  # soundfile's LibsndfileError, or older versions' RuntimeError
        reason = getattr(e, "error_string", None) or str(e)
        raise AudioError(f"{path}: not a readable audio file ({reason})") from None
    problem = wav_truncation(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    return info


def load_audio(path: str | Path, sr: int = SAMPLE_RATE, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Load ``path`` as mono float32 at ``sr`` Hz, resampling and downmixing when needed."""
    path = Path(path)
    info = describe_format(path)
    if info.frames == 0:
        raise AudioError(f"{path}: no audio samples (empty {info.format} file)")
    try:
        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except RuntimeError as e:
        raise AudioError(f"{path}: audio data could not be decoded ({e})") from None
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    y = y.mean(axis=1) if y.shape[1] > 1 else y[:, 0]
    if file_sr != sr:
        import librosa  # imported lazily: slow to import, rarely needed for EmoDB

        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq").astype(np.float32)
    if len(y) < min_seconds * sr:
        raise AudioError(f"{path}: too short ({len(y) / sr:.3f} s; at least {min_seconds} s needed)")
    peak = float(np.max(np.abs(y)))
    if peak <= SILENCE_PEAK:
        raise AudioError(f"{path}: silent (peak amplitude {peak:.2e})")
    return np.ascontiguousarray(y, dtype=np.float32)

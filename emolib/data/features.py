"""The log-mel front-end, its on-disk cache, and normalisation statistics.

Front-end (``LogMelConfig``, the default everywhere):

- 16 kHz audio, 25 ms Hann window (400 samples), 10 ms hop (160 samples), centred frames,
  so an utterance of ``n`` samples gives ``1 + n // 160`` frames;
- power spectrum -> 64 mel bands (Slaney mel scale, 50 Hz – 8 kHz) -> natural log with a
  floor of 1e-6.  64 bands, not 128: with a 400-point FFT (40 Hz bins) 128 bands leave the
  lowest filters empty, and 64 is what BYOL-A and most audio SSL work use.

Cache: one file per (audio content, front-end config), under
``cache_dir()/features/<config key>/<sha256 of the audio file>.lm``, carrying a checksum of
its own and written atomically; an entry that is truncated, corrupted, or of the wrong shape
is recomputed, never trusted.  A second pass over the corpus reads cached arrays only
(``python -m emolib bench features`` measures how much faster that is).

Normalisation: :class:`Standardizer` holds per-band mean and standard deviation, fitted on the
training speakers of a fold only (:func:`fit_standardizer`).
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..core import env
from ..core.files import atomic_write, sha256_file
from .audio import load_audio
from .splits import Fold

FRONTEND_VERSION = 1  # bump when log_mel() changes in a way the config does not capture
RACY_NS = 2_000_000_000  # files modified this recently are hashed every time (mtime granularity)


class Frontend(Protocol):
    """What the cache needs of a front-end: a frozen dataclass that turns a waveform at
    ``sample_rate`` into a float32 array of ``n_rows`` rows (features x frames)."""

    sample_rate: int

    @property
    def n_rows(self) -> int: ...

    def key(self) -> str: ...

    def __call__(self, y: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = 16_000
    win_length: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 8_000.0
    log_floor: float = 1e-6

    def key(self) -> str:
        return frontend_key(self)

    @property
    def n_rows(self) -> int:
        return self.n_mels

    def frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return log_mel(y, self)


def frontend_key(frontend) -> str:
    """Short stable identifier of a front-end dataclass: its type, settings and version."""
    blob = json.dumps({"frontend": type(frontend).__name__, **asdict(frontend),
                       "version": FRONTEND_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@lru_cache(maxsize=8)
def _mel_basis(cfg: LogMelConfig) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.win_length, n_mels=cfg.n_mels,
                               fmin=cfg.fmin, fmax=cfg.fmax).astype(np.float32)


def log_mel(y: np.ndarray, cfg: LogMelConfig = LogMelConfig()) -> np.ndarray:
    """Log-mel spectrogram of a 16 kHz waveform: float32 array (n_mels, frames)."""
    import librosa

    spec = librosa.stft(np.asarray(y, dtype=np.float32), n_fft=cfg.win_length,
                        hop_length=cfg.hop_length, window="hann", center=True, pad_mode="constant")
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    return np.log(_mel_basis(cfg) @ power + cfg.log_floor).astype(np.float32)


class FeatureCache:
    """On-disk cache of front-end outputs keyed by audio content and front-end config.

    Entry ``<sha256 of the audio file>.lm``: a header (magic, bands, frames, SHA-256 of the
    payload) and the float32 payload.  ``index.json`` beside the config folders remembers the
    content hash of each audio path with its size and modification time, so an unchanged
    file is not re-read just to be hashed (as git's index does); any change of size or
    mtime makes it hash the content again, and so does a file modified in the last two
    seconds, whose mtime could still repeat after another write.
    """

    _HEADER = struct.Struct("<4sII32s")
    _MAGIC = b"ELM1"

    def __init__(self, frontend: Frontend = LogMelConfig(), root: str | os.PathLike | None = None):
        self.frontend = frontend
        base = Path(root or env.cache_dir() / "features")
        self.dir = base / frontend.key()
        self.index_path = base / "index.json"
        try:
            self.index = json.loads(self.index_path.read_text())
        except (OSError, ValueError):
            self.index = {}  # absent or damaged: hashes are recomputed
        self._dirty = False

    def entry(self, digest: str) -> Path:
        return self.dir / f"{digest}.lm"

    def digest(self, path: str | os.PathLike) -> str:
        """SHA-256 of the file's content (from the index when size and mtime are unchanged)."""
        key = str(Path(path).resolve())
        st = os.stat(key)
        known = self.index.get(key)
        if isinstance(known, list) and known[:2] == [st.st_size, st.st_mtime_ns]:
            return known[2]
        digest = sha256_file(key)
        if time.time_ns() - st.st_mtime_ns > RACY_NS:
            self.index[key] = [st.st_size, st.st_mtime_ns, digest]
            self._dirty = True
        return digest

    def flush(self) -> None:
        """Write the index (atomically) if it changed."""
        if self._dirty:
            atomic_write(self.index_path, json.dumps(self.index).encode())
            self._dirty = False

    def load(self, digest: str) -> np.ndarray | None:
        """The cached array, or None when absent or damaged (a damaged entry is deleted)."""
        path = self.entry(digest)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        n = self._HEADER.size
        if len(blob) >= n:
            magic, bands, frames, check = self._HEADER.unpack_from(blob)
            payload = memoryview(blob)[n:]
            if (magic == self._MAGIC and bands == self.frontend.n_rows
                    and len(payload) == 4 * bands * frames
                    and hashlib.sha256(payload).digest() == check):
                return np.frombuffer(payload, dtype="<f4").reshape(bands, frames).copy()
        path.unlink(missing_ok=True)
        return None

    def save(self, digest: str, arr: np.ndarray) -> None:
        payload = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header = self._HEADER.pack(self._MAGIC, arr.shape[0], arr.shape[1],
                                   hashlib.sha256(payload).digest())
        atomic_write(self.entry(digest), header + payload)

    def get(self, path: str | os.PathLike) -> np.ndarray:
        """The front-end's output for the audio file at ``path``, computed once per content."""
        digest = self.digest(path)
        arr = self.load(digest)
        if arr is None:
            arr = self.frontend(load_audio(path, sr=self.frontend.sample_rate))
            self.save(digest, arr)
        return arr


def extract(paths: Sequence[str | os.PathLike], frontend: Frontend,
            cache: FeatureCache | None | bool = True, progress: bool = True) -> list[np.ndarray]:
    """``frontend`` applied to many files, in order, through the cache (``cache=False``
    bypasses it), with a progress bar."""
    from tqdm.auto import tqdm

    if cache is True:
        cache = FeatureCache(frontend)
    it = tqdm(paths, desc=type(frontend).__name__, unit="file", disable=not progress)
    if not cache:
        return [frontend(load_audio(p, sr=frontend.sample_rate)) for p in it]
    try:
        return [cache.get(p) for p in it]
    finally:
        cache.flush()


def log_mels(paths: Sequence[str | os.PathLike], cfg: LogMelConfig = LogMelConfig(),
             cache: FeatureCache | None | bool = True, progress: bool = True) -> list[np.ndarray]:
    """Log-mels of many files (see :func:`extract`)."""
    return extract(paths, cfg, cache=cache, progress=progress)


@dataclass
class Standardizer:
    """Per-mel-band standardisation: ``(x - mean) / std`` with statistics over all frames."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, mels: Sequence[np.ndarray]) -> "Standardizer":
        if len(mels) == 0:
            raise ValueError("Standardizer.fit needs at least one spectrogram")
        n = sum(m.shape[1] for m in mels)
        total = sum(m.sum(axis=1, dtype=np.float64) for m in mels)
        mean = total / n
        var = sum(((m - mean[:, None].astype(np.float32)) ** 2).sum(axis=1, dtype=np.float64)
                  for m in mels) / n
        return cls(mean.astype(np.float32), np.sqrt(np.maximum(var, 1e-12)).astype(np.float32))

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        return (mel - self.mean[:, None]) / self.std[:, None]


def fit_standardizer(mels: Sequence[np.ndarray], fold: Fold) -> Standardizer:
    """Normalisation statistics from the training speakers of ``fold`` only (docs/protocol.md)."""
    return Standardizer.fit([mels[i] for i in fold.train])


def speaker_standardize(X: np.ndarray, speakers: Sequence[str], fit: np.ndarray | None = None) -> np.ndarray:
    """Speaker normalisation: z-score each row of ``X`` (one per utterance or segment) with
    the mean and standard deviation of its own speaker's rows (only those where the boolean ``fit``
    is true, when given: e.g. whole recordings, not the windows also scored from them).

    It uses each speaker's unlabelled audio, test speakers included, which SI-5 allows but
    which is always reported as its own row (docs/protocol.md).
    """
    X = np.asarray(X, dtype=np.float64)
    speakers = np.asarray(speakers)
    out = np.empty_like(X)
    fit = np.ones(len(X), bool) if fit is None else np.asarray(fit, bool)
    for s in np.unique(speakers):
        rows = speakers == s
        stats = X[rows & fit]
        out[rows] = (X[rows] - stats.mean(axis=0)) / np.maximum(stats.std(axis=0), 1e-8)
    return out

"""Spectrogram-domain augmentations (BYOL-A style): each a tiny ``torch.nn.Module`` working on a
batch ``(B, F, T)`` on the CPU or a GPU; random numbers come from a ``torch.Generator`` on the CPU,
so a seed gives the same views on every device.

- :class:`RandomTimeCrop`    a fixed-length window at a random place in each utterance;
- :class:`RandomGain`        ± ``max_db`` decibels (an offset of the log power);
- :class:`LogMixupExp`       ``log((1-λ)·e^x + λ·e^z)`` with another utterance of the batch or a
  queue of earlier ones, ``λ ~ U(0, ratio)``;
- :class:`MelWarp`           a random vocal-tract-length warp of the mel axis (VTLP): formants and
  harmonics move together by a factor ``α``, the time course (prosody) is untouched;
- :class:`SourceFilterWarp`  formants and pitch moved apart: the log-mel split into a smooth
  envelope (the vocal tract's filter) and the fine structure around it (the harmonics of the
  voice source), each warped by its own factor;
- :class:`Normalize`         per-band standardisation with a fold's training statistics (or,
  for ``input_norm="speaker"``, with each utterance's own speaker's statistics);
- :class:`RandomResizedCrop` a virtual crop of random size and place, resized back;
- :class:`SpecAugment`       frequency and time masks.

Gain and mixup act on the natural-log power (where they mean what they say); then the views are
standardised, and crops and masks fill with zero, the training mean.

The report's waveform augmentations are :mod:`emolib.augmentation.report`'s; MoCo's views, which combine
both, are :mod:`emolib.augmentation.views`'s.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.features import LogMelConfig, Standardizer


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


class MelBank:
    """Variable-length log-mels stored end to end in one ``(F, total frames)`` tensor, with
    each utterance's offset and length: a whole corpus (or its cached variants) in memory,
    ready for batched cropping on the CPU or a GPU."""

    def __init__(self, mels: Sequence[np.ndarray]):
        if not len(mels):
            raise ValueError("MelBank needs at least one spectrogram")
        self.data = torch.from_numpy(np.concatenate(mels, axis=1).astype(np.float32))
        self.lengths = torch.tensor([m.shape[1] for m in mels])
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def to(self, device) -> "MelBank":
        self.data = self.data.to(device)
        return self

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.data[:, self.offsets[i]:self.offsets[i] + self.lengths[i]]


class RandomTimeCrop(nn.Module):
    """A window of ``frames`` frames at a uniformly random start inside each utterance.  An
    utterance shorter than the window is repeated (wrapped) to fill it."""

    def __init__(self, frames: int = 96):
        super().__init__()
        self.frames = frames

    def starts(self, lengths: torch.Tensor, generator=None) -> torch.Tensor:
        room = (lengths - self.frames).clamp(min=0) + 1
        return (torch.rand(len(lengths), generator=generator) * room).long()

    def forward(self, bank: MelBank, idx: torch.Tensor, generator=None,
                starts: torch.Tensor | None = None) -> torch.Tensor:
        """Crops ``(B, F, frames)`` of utterances ``idx`` of ``bank``."""
        idx = torch.as_tensor(idx).cpu()
        lengths, offsets = bank.lengths[idx], bank.offsets[idx]
        if starts is None:
            starts = self.starts(lengths, generator)
        steps = torch.arange(self.frames)
        pos = offsets[:, None] + (starts[:, None] + steps) % lengths[:, None]
        return bank.data[:, pos.to(bank.data.device)].permute(1, 0, 2).contiguous()


class RandomGain(nn.Module):
    """A gain of ``U(-max_db, max_db)`` dB per utterance: ``+ g · ln(10) / 10`` in log power."""

    def __init__(self, max_db: float = 6.0):
        super().__init__()
        self.max_db = max_db

    def forward(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        if self.max_db == 0:
            return x
        gain = _uniform(len(x), -self.max_db, self.max_db, generator) * (math.log(10) / 10)
        return x + gain.to(x.device, x.dtype)[:, None, None]


class LogMixupExp(nn.Module):
    """Log-mixup-exp (BYOL-A): ``log((1-λ)·e^x + λ·e^z)`` with ``λ ~ U(0, ratio)`` and ``z``
    another utterance: from a queue of up to ``queue`` earlier ones when it holds any, else
    from the batch (a random other item).  Acts on the log power."""

    def __init__(self, ratio: float = 0.4, queue: int = 0):
        super().__init__()
        self.ratio, self.queue_size = ratio, queue
        self.memory: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        if self.ratio == 0:
            return x
        n = len(x)
        pool = self.memory if self.memory is not None and len(self.memory) else None
        if pool is None:
            if n < 2:
                return x
            other = (torch.arange(n) + 1 + (torch.rand(n, generator=generator) * (n - 1)).long()) % n
            z = x[other.to(x.device)]
        else:
            pick = (torch.rand(n, generator=generator) * len(pool)).long()
            z = pool[pick.to(pool.device)].to(x.device)
        lam = _uniform(n, 0, self.ratio, generator).to(x.device, x.dtype)[:, None, None]
        mixed = torch.logaddexp(torch.log1p(-lam) + x, torch.log(lam) + z)
        if self.queue_size:
            keep = torch.cat([x.detach(), self.memory]) if self.memory is not None else x.detach()
            self.memory = keep[:self.queue_size]
        return mixed


class Normalize(nn.Module):
    """Per-band standardisation ``(x - mean) / std`` with a fold's training statistics.

    With a list of standardizers and ``groups`` (one group index per utterance), utterance
    ``i`` is standardised with ``standardizers[groups[i]]`` (e.g. its own speaker's
    statistics); ``forward`` then needs the batch's utterance indices."""

    def __init__(self, standardizer: Standardizer | Sequence[Standardizer], groups=None):
        super().__init__()
        many = not isinstance(standardizer, Standardizer)
        if many and groups is None:
            raise ValueError("Normalize: several standardizers need groups (one per utterance)")
        stats = list(standardizer) if many else [standardizer]
        self.register_buffer("mean", torch.from_numpy(np.stack([s.mean for s in stats]))[:, :, None])
        self.register_buffer("std", torch.from_numpy(np.stack([s.std for s in stats]))[:, :, None])
        self.groups = torch.as_tensor(np.asarray(groups), dtype=torch.long) if many else None

    def forward(self, x: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        if self.groups is None:
            return (x - self.mean[0]) / self.std[0]
        if idx is None:
            raise ValueError("Normalize with per-group statistics needs the utterance indices")
        g = self.groups[torch.as_tensor(idx).cpu()].to(x.device)
        return (x - self.mean[g]) / self.std[g]


class MelWarp(nn.Module):
    """Vocal-tract-length perturbation (Jaitly & Hinton, 2013) on log-mels: a warp factor
    ``α ~ U(1 - max_warp, 1 + max_warp)`` per utterance moves every frequency ``f`` below
    ``boundary_hz · min(α, 1) / α`` to ``α·f`` (a longer or shorter vocal tract: formants and
    pitch harmonics together), and maps the rest linearly so that the top band stays the top.
    Each output band reads the input at the warped position (linear interpolation between bands,
    edges repeated).  Acts on the log power; time is untouched, so the prosody is kept.

    Our own: librosa changes pitch on waveforms only (slow: see :func:`pitch_shift`), and has no
    warp of an existing mel axis; here it runs batched on the views, on the CPU or a GPU."""

    def __init__(self, max_warp: float = 0.15, cfg: LogMelConfig = LogMelConfig(), boundary_hz: float = 4800.0):
        super().__init__()
        import librosa

        if not 0 <= max_warp < 1:
            raise ValueError(f"MelWarp: max_warp must be in [0, 1), got {max_warp}")
        self.max_warp, self.nyquist, self.boundary = max_warp, cfg.sample_rate / 2, boundary_hz
        self.centres = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
        self._mel_centres = librosa.hz_to_mel(self.centres)

    def source_positions(self, alpha: np.ndarray) -> np.ndarray:
        """``(B, F)`` fractional band indices each output band reads from, for warp factors ``alpha``."""
        import librosa

        a = np.asarray(alpha, dtype=np.float64)[:, None]
        g, half = self.centres[None, :], self.nyquist
        f0 = self.boundary * np.minimum(a, 1) / a  # below f0 the warp is f -> a·f
        upper = half - (half - g) * (half - f0) / (half - a * f0)
        src = np.where(g <= a * f0, g / a, upper)
        return np.interp(librosa.hz_to_mel(src), self._mel_centres, np.arange(len(self.centres)))

    def forward(self, x: torch.Tensor, generator=None, alpha: torch.Tensor | None = None) -> torch.Tensor:
        if self.max_warp == 0 and alpha is None:
            return x
        if alpha is None:
            alpha = _uniform(len(x), 1 - self.max_warp, 1 + self.max_warp, generator)
        pos = torch.from_numpy(self.source_positions(alpha.numpy())).to(x.device, x.dtype)
        lo = pos.floor().long().clamp(0, x.shape[1] - 1)
        hi = (lo + 1).clamp(max=x.shape[1] - 1)
        w = (pos - lo)[:, :, None]
        t = x.shape[2]
        return (x.gather(1, lo[:, :, None].expand(-1, -1, t)) * (1 - w)
                + x.gather(1, hi[:, :, None].expand(-1, -1, t)) * w)


def lifter(n_bands: int, n_coef: int) -> np.ndarray:
    """``(n_bands, n_bands)`` projection onto the smooth part of a log spectrum: orthonormal
    DCT along the bands, keep the first ``n_coef`` coefficients (the low quefrencies, as MFCCs
    do), inverse DCT.  Built with scipy's DCT; applied as one matrix product per batch."""
    from scipy.fft import dct, idct

    coef = dct(np.eye(n_bands), type=2, norm="ortho", axis=0)
    coef[n_coef:] = 0
    return idct(coef, type=2, norm="ortho", axis=0)


class SourceFilterWarp(nn.Module):
    """Change the formants and the pitch of a log-mel independently (a source-filter split).

    The smooth envelope ``E = L·x`` (:func:`lifter`, ``n_coef`` cepstral coefficients) stands for
    the vocal tract's filter; the rest ``R = x - E`` for the fine structure of the voice source,
    whose harmonics show as ripples in the low bands.  The output is ``warp_α(E) + warp_β(R)``,
    each warp :class:`MelWarp`'s frequency map, with ``α ~ U(1 ± max_formant)`` (formants move,
    pitch stays) and ``β ~ U(1 ± max_pitch)`` (harmonics move, formants stay) drawn per utterance.
    :class:`MelWarp` is the special case ``α = β``.

    An approximation, and our own (librosa's pitch shift works on waveforms, is slow, and moves
    formants with the pitch): with 64 mel bands the harmonics are resolved only below about
    1 kHz, so above it the pitch warp moves noise-like ripples; the envelope keeps loudness,
    spectral tilt and formants, so arousal cues other than pitch are largely kept."""

    def __init__(self, max_formant: float = 0.15, max_pitch: float = 0.15, cfg: LogMelConfig = LogMelConfig(),
                 n_coef: int = 12):
        super().__init__()
        for name, value in (("max_formant", max_formant), ("max_pitch", max_pitch)):
            if not 0 <= value < 1:
                raise ValueError(f"SourceFilterWarp: {name} must be in [0, 1), got {value}")
        self.max_formant, self.max_pitch = max_formant, max_pitch
        self.warp = MelWarp(max(max_formant, max_pitch), cfg)
        self.register_buffer("lifter", torch.from_numpy(lifter(cfg.n_mels, n_coef)).float(), persistent=False)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(envelope, fine structure)`` of a batch ``(B, F, T)``; they sum to ``x``."""
        env = torch.einsum("gf,bft->bgt", self.lifter.to(x.device, x.dtype), x)
        return env, x - env

    def forward(self, x: torch.Tensor, generator=None, alpha: torch.Tensor | None = None,
                beta: torch.Tensor | None = None) -> torch.Tensor:
        if alpha is None and beta is None and self.max_formant == 0 and self.max_pitch == 0:
            return x
        if alpha is None:
            alpha = _uniform(len(x), 1 - self.max_formant, 1 + self.max_formant, generator)
        if beta is None:
            beta = _uniform(len(x), 1 - self.max_pitch, 1 + self.max_pitch, generator)
        env, fine = self.split(x)
        return self.warp(env, alpha=alpha) + self.warp(fine, alpha=beta)


class RandomResizedCrop(nn.Module):
    """BYOL-A's random resized crop: the spectrogram sits in the middle of a zero canvas
    ``virtual_scale`` times its size; a crop whose height and width are ``U(freq_scale)`` and
    ``U(time_scale)`` times the spectrogram's (clipped to the canvas), at a random place on the
    canvas, is resized back to the input size (bilinear).  All scales 1 is the identity."""

    def __init__(self, virtual_scale: float = 1.5, freq_scale=(0.6, 1.5), time_scale=(0.6, 1.5)):
        super().__init__()
        self.virtual_scale, self.freq_scale, self.time_scale = virtual_scale, freq_scale, time_scale

    def forward(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        n, v = len(x), self.virtual_scale
        half_f = _uniform(n, *self.freq_scale, generator).clamp(max=v)  # crop half-extent in
        half_t = _uniform(n, *self.time_scale, generator).clamp(max=v)  # [-1, 1] coordinates
        centre_f = _uniform(n, -1, 1, generator) * (v - half_f)
        centre_t = _uniform(n, -1, 1, generator) * (v - half_t)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = half_t, centre_t  # x: time (width)
        theta[:, 1, 1], theta[:, 1, 2] = half_f, centre_f  # y: frequency (height)
        grid = F.affine_grid(theta.to(x.device, x.dtype), [n, 1, *x.shape[1:]], align_corners=True)
        out = F.grid_sample(x[:, None], grid, mode="bilinear", padding_mode="zeros",
                            align_corners=True)
        return out[:, 0]


def mask(x: torch.Tensor, dim: int, start: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
    """Zero rows ``start[b] .. start[b] + width[b] - 1`` of axis ``dim`` (1: frequency,
    2: time) of each item ``b`` of ``x`` (B, F, T); everything else unchanged."""
    size = x.shape[dim]
    ar = torch.arange(size, device=x.device)
    start = torch.as_tensor(start, device=x.device).reshape(-1, 1)
    width = torch.as_tensor(width, device=x.device).reshape(-1, 1)
    band = (ar >= start) & (ar < start + width)  # (B, size)
    band = band[:, :, None] if dim == 1 else band[:, None, :]
    return x.masked_fill(band, 0.0)


class SpecAugment(nn.Module):
    """SpecAugment masks: ``n_freq`` frequency bands of width ``U{0..freq_width}`` and
    ``n_time`` time spans of width ``U{0..time_width}``, set to zero (the mean)."""

    def __init__(self, freq_width: int = 8, time_width: int = 16, n_freq: int = 1, n_time: int = 1):
        super().__init__()
        self.freq_width, self.time_width, self.n_freq, self.n_time = freq_width, time_width, n_freq, n_time

    def forward(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        for dim, widest, count in ((1, self.freq_width, self.n_freq), (2, self.time_width, self.n_time)):
            widest = min(widest, x.shape[dim])
            for _ in range(count if widest else 0):
                width = (torch.rand(len(x), generator=generator) * (widest + 1)).long()
                start = (torch.rand(len(x), generator=generator) * (x.shape[dim] - width + 1)).long()
                x = mask(x, dim, start, width)
        return x

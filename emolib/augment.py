"""Augmentations: the report's waveform recipe done right, and fast spectrogram-domain views.

**The report's waveform augmentations** (docs/design.md), exactly, each a small function taking a
``numpy.random.Generator`` (never the global RNG):

- :func:`add_noise`   Gaussian noise of amplitude ``level · U(0,1) · max(x)`` (level 0.01);
- :func:`time_stretch` phase-vocoder time stretch (librosa) at ``rate`` 0.8: 1.25× longer;
- :func:`shift`       circular shift by ``U(-5, 5) · 1000`` samples (:func:`roll` for a fixed one);
- :func:`pitch_shift` pitch shift by +0.7 semitone (librosa).

:class:`ReportRecipe` composes them into the report's two views (view 1 = noise then stretch,
view 2 = shift then pitch).  The phase vocoder is slow, so training never runs it on the fly:
:func:`report_variants` precomputes ``k`` variants of each view per utterance, as log-mels, once,
through the feature cache (:class:`~emolib.features.FeatureCache`: keyed by file content and
every parameter, checksummed, written atomically), with a progress bar.

**Spectrogram-domain augmentations** (BYOL-A style, each a tiny ``torch.nn.Module`` working on a
batch ``(B, F, T)`` on the CPU or a GPU; random numbers come from a ``torch.Generator`` on the
CPU, so a seed gives the same views on every device):

- :class:`RandomTimeCrop`    a fixed-length window at a random place in each utterance;
- :class:`RandomGain`        ± ``max_db`` decibels (an offset of the log power);
- :class:`LogMixupExp`       ``log((1-λ)·e^x + λ·e^z)`` with another utterance of the batch or a
  queue of earlier ones, ``λ ~ U(0, ratio)``;
- :class:`MelWarp`           a random vocal-tract-length warp of the mel axis (VTLP): formants and
  harmonics move together by a factor ``α``, the time course (prosody) is untouched;
- :class:`Normalize`         per-band standardisation with a fold's training statistics (or,
  for ``input_norm="speaker"``, with each utterance's own speaker's statistics);
- :class:`RandomResizedCrop` a virtual crop of random size and place, resized back;
- :class:`SpecAugment`       frequency and time masks.

Gain and mixup act on the natural-log power (where they mean what they say); then the views are
standardised, and crops and masks fill with zero, the training mean.

:class:`TwoViews` builds MoCo's pair from one utterance: each view takes the clean log-mel or a
cached report variant (view 1 from noise+stretch, view 2 from shift+pitch), then the spectrogram
augmentations its :class:`ViewRecipe` switches on.  The report found that stacking image
augmentations on top of the audio ones broke positive pairs, so the combination is a setting
(:data:`RECIPES`), compared in notebook 02.
"""
from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .audio import load_audio
from .features import FeatureCache, LogMelConfig, Standardizer, frontend_key, log_mel

SR = 16_000


# --- the report's waveform augmentations -------------------------------------------------

def add_noise(y: np.ndarray, rng: np.random.Generator, level: float = 0.01) -> np.ndarray:
    """``y + level · U(0,1) · max(y) · N(0, 1)`` per sample, as in the report."""
    y = np.asarray(y, dtype=np.float32)
    if level == 0:
        return y.copy()
    amplitude = level * rng.uniform() * float(np.max(y))
    return (y + amplitude * rng.standard_normal(len(y))).astype(np.float32)


def time_stretch(y: np.ndarray, rate: float = 0.8) -> np.ndarray:
    """Phase-vocoder time stretch: the result lasts ``1 / rate`` times as long (rate 0.8: 1.25×)."""
    import librosa

    if rate <= 0:
        raise ValueError(f"time_stretch: rate must be positive, got {rate}")
    y = np.asarray(y, dtype=np.float32)
    if rate == 1:
        return y.copy()
    return librosa.effects.time_stretch(y, rate=rate).astype(np.float32)


def roll(y: np.ndarray, samples: int) -> np.ndarray:
    """Circular shift by ``samples`` (positive: later)."""
    return np.roll(np.asarray(y, dtype=np.float32), int(samples))


def shift(y: np.ndarray, rng: np.random.Generator, limit: int = 5000) -> np.ndarray:
    """Circular shift by ``int(U(-limit, limit))`` samples: the report's ``U(-5, 5) · 1000``."""
    return roll(y, int(rng.uniform(-limit, limit)) if limit else 0)


def pitch_shift(y: np.ndarray, semitones: float = 0.7, sr: int = SR) -> np.ndarray:
    """Pitch shift by ``semitones`` (librosa: stretch, then resample), same duration."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if semitones == 0:
        return y.copy()
    return librosa.effects.pitch_shift(y, sr=sr, n_steps=semitones).astype(np.float32)


@dataclass(frozen=True)
class ReportRecipe:
    """The report's two views: view 1 = noise then stretch, view 2 = shift then pitch."""

    noise_level: float = 0.01
    stretch_rate: float = 0.8
    shift_limit: int = 5000
    semitones: float = 0.7
    sample_rate: int = SR

    def view(self, which: int, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if which == 1:
            return time_stretch(add_noise(y, rng, self.noise_level), self.stretch_rate)
        if which == 2:
            return pitch_shift(shift(y, rng, self.shift_limit), self.semitones, self.sample_rate)
        raise ValueError(f"ReportRecipe.view: which must be 1 or 2, got {which}")


@dataclass(frozen=True)
class ReportVariant:
    """Front-end for the feature cache: variant ``index`` of the report's view ``view``, then
    the log-mel.  Its random numbers are seeded by ``seed``, the view, the index and the audio
    itself, so each utterance gets its own noise and shift, the same every time."""

    view: int
    index: int
    recipe: ReportRecipe = ReportRecipe()
    logmel: LogMelConfig = LogMelConfig()
    seed: int = 0

    @property
    def sample_rate(self) -> int:
        return self.logmel.sample_rate

    @property
    def n_rows(self) -> int:
        return self.logmel.n_mels

    def key(self) -> str:
        return frontend_key(self)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        rng = np.random.default_rng([self.seed, self.view, self.index, zlib.crc32(y.tobytes())])
        return log_mel(self.recipe.view(self.view, y, rng), self.logmel)


def report_variants(paths: Sequence[str | os.PathLike], k: int, recipe: ReportRecipe = ReportRecipe(),
                    cfg: LogMelConfig = LogMelConfig(), seed: int = 0, progress: bool = True,
                    root: str | os.PathLike | None = None) -> dict[int, list[list[np.ndarray]]]:
    """``k`` precomputed variants of each report view for every file, as log-mels:
    ``out[view][i][j]`` is variant ``i`` of view ``view`` (1 or 2) of ``paths[j]``.

    Computed once (each file is decoded once, whatever ``k``) and then read from the feature
    cache; raising ``k`` later computes only the new variants.
    """
    from tqdm.auto import tqdm

    if k < 1:
        raise ValueError(f"report_variants: k must be at least 1, got {k}")
    fronts = [ReportVariant(v, i, recipe, cfg, seed) for v in (1, 2) for i in range(k)]
    caches = [FeatureCache(f, root) for f in fronts]
    arrays: list[list[np.ndarray]] = [[] for _ in fronts]
    try:
        for path in tqdm(paths, desc=f"report views ({2 * k} per file)", unit="file",
                         disable=not progress):
            digest, y = caches[0].digest(path), None
            for cache, out in zip(caches, arrays):
                arr = cache.load(digest)
                if arr is None:
                    if y is None:
                        y = load_audio(path, sr=cfg.sample_rate)
                    arr = cache.frontend(y)
                    cache.save(digest, arr)
                out.append(arr)
    finally:
        caches[0].flush()
    return {v: arrays[(v - 1) * k:v * k] for v in (1, 2)}


# --- spectrogram-domain augmentations ----------------------------------------------------

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


# --- MoCo's two views ---------------------------------------------------------------------

@dataclass(frozen=True)
class ViewRecipe:
    """Which augmentations make a view (a setting, because the report's stacking of image
    augmentations on top of audio ones broke positive pairs).

    ``waveform``: take the view from the cached report variants (view 1: noise+stretch,
    view 2: shift+pitch) instead of the clean log-mel.  The rest are the spectrogram
    augmentations, each off at 0 / False."""

    crop_frames: int = 96
    waveform: bool = False
    gain_db: float = 0.0
    mixup: float = 0.0
    resized_crop: bool = False
    freq_mask: int = 0
    time_mask: int = 0
    warp: float = 0.0          # MelWarp's max_warp (0: off)
    warp_views: str = "both"   # "both": each view its own warp; "one": view 2 only

    def __post_init__(self):
        if self.warp_views not in ("both", "one"):
            raise ValueError(f"warp_views must be 'both' or 'one', got {self.warp_views!r}")


#: Named combinations compared in notebook 02 (and selectable for pretraining).
RECIPES: dict[str, ViewRecipe] = {
    "crop": ViewRecipe(),
    "report": ViewRecipe(waveform=True),
    "byol-a": ViewRecipe(mixup=0.4, resized_crop=True, gain_db=6.0),
    "byol-a+masks": ViewRecipe(mixup=0.4, resized_crop=True, gain_db=6.0, freq_mask=8, time_mask=16),
    "report+byol-a": ViewRecipe(waveform=True, mixup=0.4, resized_crop=True, gain_db=6.0),
}


def recipe(name: str, **changes) -> ViewRecipe:
    """A named recipe from :data:`RECIPES`, with optional changes (e.g. ``crop_frames=128``)."""
    if name not in RECIPES:
        raise ValueError(f"unknown augmentation recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return replace(RECIPES[name], **changes)


class TwoViews(nn.Module):
    """MoCo's positive pair from one utterance: ``views(idx, generator)`` returns two batches
    ``(B, 1, F, crop_frames)`` of standardised log-mels, each augmented independently.

    ``clean``: the utterances' log-mels; ``variants``: the output of :func:`report_variants`
    for the same utterances (needed when ``recipe.waveform``); ``standardizer``: the fold's
    training statistics (or one per group, with ``groups`` giving each utterance's group: see
    :class:`Normalize`).  With several variants per view, each call picks one at random.
    """

    def __init__(self, clean: Sequence[np.ndarray], standardizer: Standardizer | Sequence[Standardizer],
                 recipe: ViewRecipe = ViewRecipe(), variants: dict | None = None, queue: int = 0,
                 groups=None):
        super().__init__()
        self.recipe, self.n = recipe, len(clean)
        self.clean = MelBank(clean)
        self.banks: dict[int, MelBank] = {}
        if recipe.waveform:
            if not variants:
                raise ValueError("this recipe takes its views from the report's waveform "
                                 "variants: pass variants=report_variants(paths, k)")
            for v in (1, 2):
                if any(len(per) != self.n for per in variants[v]):
                    raise ValueError("variants do not match the utterances: each variant needs "
                                     f"{self.n} log-mels, in the same order")
                self.banks[v] = MelBank([m for per in variants[v] for m in per])
        self.k = len(variants[1]) if recipe.waveform else 0
        self.crop = RandomTimeCrop(recipe.crop_frames)
        self.gain = RandomGain(recipe.gain_db)
        self.mixup = nn.ModuleList([LogMixupExp(recipe.mixup, queue) for _ in (1, 2)])
        self.normalize = Normalize(standardizer, groups)
        self.warp = MelWarp(recipe.warp, LogMelConfig(n_mels=clean[0].shape[0]))
        self.resized_crop = RandomResizedCrop() if recipe.resized_crop else nn.Identity()
        self.masks = SpecAugment(recipe.freq_mask, recipe.time_mask)

    def to(self, device):
        for bank in (self.clean, *self.banks.values()):
            bank.to(device)
        return super().to(device)

    def view(self, which: int, idx: torch.Tensor, generator=None) -> torch.Tensor:
        idx = torch.as_tensor(idx).cpu()
        if self.recipe.waveform:
            variant = (torch.rand(len(idx), generator=generator) * self.k).long()
            x = self.crop(self.banks[which], variant * self.n + idx, generator)
        else:
            x = self.crop(self.clean, idx, generator)
        x = self.mixup[which - 1](self.gain(x, generator), generator)
        if self.recipe.warp and (which == 2 or self.recipe.warp_views == "both"):
            x = self.warp(x, generator)
        x = self.normalize(x, idx)
        if self.recipe.resized_crop:
            x = self.resized_crop(x, generator)
        return self.masks(x, generator)[:, None]

    def forward(self, idx: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.view(1, idx, generator), self.view(2, idx, generator)


def view_agreement(views: TwoViews, idx: torch.Tensor, generator=None) -> dict:
    """How recognisable positive pairs are to a fixed, untrained descriptor: each view's mean
    over time (one value per mel band, centred over the batch), compared by cosine similarity.

    Returns the similarities of the positive pairs (two views of one utterance) and of all
    negative pairs (view 1 of one utterance, view 2 of another), ``auc``: how often a positive
    pair is more similar than a negative one of the same utterance, and ``top1``: how often
    view 2 of an utterance is the nearest of all view 2s to its view 1 (the contrastive task
    itself, solved with a fixed descriptor instead of an encoder).
    """
    with torch.no_grad():
        v1, v2 = views(idx, generator)
        a, b = v1[:, 0].mean(-1).double(), v2[:, 0].mean(-1).double()
        # centred per view over the batch: a shift shared by all views of one kind (noise
        # filling quiet bands, say) says nothing about which utterance a view came from
        a, b = F.normalize(a - a.mean(0), dim=1), F.normalize(b - b.mean(0), dim=1)
        sim = a @ b.T
    n = len(sim)
    pos = sim.diagonal()
    off = ~torch.eye(n, dtype=torch.bool)
    auc = ((pos[:, None] > sim) & off).sum() / off.sum()
    return {"positive": pos.numpy(), "negative": sim[off].numpy(), "auc": float(auc),
            "top1": float((sim.argmax(1) == torch.arange(n)).double().mean())}

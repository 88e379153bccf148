"""Every augmentation by name, with the parameters it takes, as the augmentation explorer
(:class:`emolib.app.widgets.AugmentationExplorer`) plays it: :data:`CATALOG` maps a name to an
:class:`Entry`, whose ``apply`` turns one utterance into ``(audio, log-mel, how the audio was made)``;
:data:`PARAMS` gives each parameter's label, default and range (the explorer's sliders).

Parameters are set exactly (a fixed shift, stretch rate, mask width, mixup weight…); ``seed`` draws what
stays random (the noise, a crop's or mask's place, the other utterance for mixup).  Waveform augmentations
are heard as they are; spectrogram ones as exactly as the waveform allows (a crop, a gain, a power-weighted
mix of the two waveforms), and masks, resized crops and warps through Griffin-Lim resynthesis of the
augmented log-mel (the phase is estimated, so expect some roughness).  Spectrogram augmentations are applied
as in training: masks and crops on the standardised log-mel (here with the utterance's own statistics),
filling with its mean; the warps on the log power.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..data.features import LogMelConfig, Standardizer, log_mel
from . import report, spectrogram

GRIFFIN_LIM_ITERATIONS = 32


@dataclass
class Utterance:
    """What an augmentation gets: the waveform ``y`` and its log-mel ``mel`` (front-end ``cfg``), the
    parameter values ``p``, a NumPy generator and a torch generator seeded with ``p["seed"]``, and
    ``other(rng)``: another utterance ``(name, emotion, waveform)`` for mixup."""

    y: np.ndarray
    mel: np.ndarray
    p: dict
    cfg: LogMelConfig = LogMelConfig()
    other: Callable[[np.random.Generator], tuple[str, str, np.ndarray]] | None = None

    def __post_init__(self):
        self.rng = np.random.default_rng(self.p.get("seed", 0))
        self.g = torch.Generator().manual_seed(int(self.p.get("seed", 0)))


@dataclass(frozen=True)
class Param:
    """A parameter the explorer sets: its label, default, range and step, and whether it is a whole number."""

    label: str
    default: float
    low: float
    high: float
    step: float = 1
    integer: bool = False


#: Every parameter an augmentation of :data:`CATALOG` reads, with the range the explorer offers.
PARAMS: dict[str, Param] = {
    "noise": Param("noise level", 0.01, 0, 0.2, 0.005),
    "rate": Param("stretch rate", 0.8, 0.5, 1.5, 0.05),
    "shift": Param("shift (samples)", 2500, -5000, 5000, 250, integer=True),
    "semitones": Param("semitones", 0.7, -4, 4, 0.1),
    "crop": Param("crop (s)", 0.96, 0.3, 3.0, 0.02),
    "freq_scale": Param("frequency scale", 0.8, 0.6, 1.5, 0.05),
    "time_scale": Param("time scale", 1.2, 0.6, 1.5, 0.05),
    "freq_mask": Param("mask (bands)", 8, 0, 32, integer=True),
    "time_mask": Param("mask (frames)", 30, 0, 150, 5, integer=True),
    "mixup": Param("mixup λ", 0.4, 0, 1, 0.05),
    "gain": Param("gain (dB)", -6, -12, 12, 1),
    "alpha": Param("warp factor α", 1.15, 0.8, 1.2, 0.01),
    "beta": Param("pitch factor β", 1.15, 0.8, 1.2, 0.01),
    "seed": Param("seed", 0, 0, 99, integer=True),
}


@dataclass(frozen=True)
class Entry:
    """An augmentation of the catalog: the parameters it reads and how it is applied."""

    params: tuple[str, ...]
    apply: Callable[[Utterance], tuple[np.ndarray, np.ndarray, str]]


def griffin_lim(mel: np.ndarray, cfg: LogMelConfig = LogMelConfig(),
                n_iter: int = GRIFFIN_LIM_ITERATIONS) -> np.ndarray:
    """A waveform whose log-mel approximates ``mel`` (librosa's Griffin-Lim phase estimation)."""
    import librosa

    magnitude = librosa.feature.inverse.mel_to_stft(
        np.maximum(np.exp(mel) - cfg.log_floor, 0), sr=cfg.sample_rate, n_fft=cfg.win_length,
        power=2.0, fmin=cfg.fmin, fmax=cfg.fmax)
    y = librosa.griffinlim(magnitude, n_iter=n_iter, hop_length=cfg.hop_length,
                           win_length=cfg.win_length, n_fft=cfg.win_length, pad_mode="constant",
                           random_state=0)  # seeded phase initialisation: same input, same sound
    peak = np.abs(y).max()
    return (y / peak * 0.9 if peak > 1 else y).astype(np.float32)


def _resynthesised(u: Utterance, aug: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, str]:
    return (griffin_lim(aug, u.cfg), aug.astype(np.float32),
            f"Griffin-Lim resynthesis ({GRIFFIN_LIM_ITERATIONS} iterations) of the {what} log-mel")


def _waveform(fn: Callable[[Utterance], np.ndarray]) -> Callable[[Utterance], tuple]:
    def apply(u: Utterance):
        z = fn(u)
        return z, log_mel(z, u.cfg), "the augmented waveform"
    return apply


def _time_crop(u: Utterance):
    sr, hop = u.cfg.sample_rate, u.cfg.hop_length
    crop = spectrogram.RandomTimeCrop(int(round(u.p["crop"] * sr / hop)))
    start = int(crop.starts(torch.tensor([u.mel.shape[1]]), u.g)[0])
    out = crop(spectrogram.MelBank([u.mel]), torch.tensor([0]), starts=torch.tensor([start]))
    idx = (start + np.arange(crop.frames * hop)) % (u.mel.shape[1] * hop)
    return u.y[idx[idx < len(u.y)]], out[0].numpy(), "the same span of the waveform"


def _gain(u: Utterance):
    return ((u.y * 10 ** (u.p["gain"] / 20)).astype(np.float32), u.mel + u.p["gain"] * np.log(10) / 10,
            "the waveform with the same gain")


def _mixup(u: Utterance):
    name, emotion, z = u.other(u.rng)
    z = np.resize(z, len(u.y))  # repeated or cut to the same length
    lam = u.p["mixup"]
    with np.errstate(divide="ignore"):  # lam 0 or 1: log 0 = -inf drops that side
        mixed = np.logaddexp(np.log1p(-lam) + u.mel, np.log(lam) + log_mel(z, u.cfg))
    audio = (np.sqrt(1 - lam) * u.y + np.sqrt(lam) * z).astype(np.float32)
    return audio, mixed.astype(np.float32), f"a power-weighted mix with {name} ({emotion})"


def _warp(which: str) -> Callable[[Utterance], tuple]:
    """The mel-axis warp (formants and harmonics together), or the envelope or fine structure alone."""
    def apply(u: Utterance):
        x, one = torch.from_numpy(u.mel)[None], torch.ones(1)  # on the log power, as in training
        if which == "vocal tract":
            aug = spectrogram.MelWarp(0.2, u.cfg)(x, alpha=torch.tensor([u.p["alpha"]]))
        else:
            alpha, beta = ((torch.tensor([u.p["alpha"]]), one) if which == "formant" else (one, torch.tensor([u.p["beta"]])))
            aug = spectrogram.SourceFilterWarp(0.2, 0.2, u.cfg)(x, alpha=alpha, beta=beta)
        return _resynthesised(u, aug[0].numpy(), "warped")
    return apply


def _on_standardised(fn: Callable[[torch.Tensor, Utterance], torch.Tensor]) -> Callable[[Utterance], tuple]:
    """A spectrogram augmentation applied to the utterance standardised with its own statistics."""
    def apply(u: Utterance):
        std = Standardizer.fit([u.mel])
        out = fn(torch.from_numpy(std(u.mel))[None], u)
        return _resynthesised(u, out[0].numpy() * std.std[:, None] + std.mean[:, None], "augmented")
    return apply


def _resized_crop(x: torch.Tensor, u: Utterance) -> torch.Tensor:
    return spectrogram.RandomResizedCrop(1.5, (u.p["freq_scale"],) * 2, (u.p["time_scale"],) * 2)(x, u.g)


def _mask(dim: int, key: str) -> Callable[[torch.Tensor, Utterance], torch.Tensor]:
    def fn(x: torch.Tensor, u: Utterance) -> torch.Tensor:
        width = min(u.p[key], x.shape[dim])
        start = int(torch.randint(x.shape[dim] - width + 1, (1,), generator=u.g))
        return spectrogram.mask(x, dim, torch.tensor([start]), torch.tensor([width]))
    return fn


def _report_view_1(u: Utterance) -> np.ndarray:
    return report.ReportRecipe(u.p["noise"], u.p["rate"]).view(1, u.y, u.rng)


def _report_view_2(u: Utterance) -> np.ndarray:
    return report.pitch_shift(report.roll(u.y, u.p["shift"]), u.p["semitones"], u.cfg.sample_rate)


#: The augmentations, in the explorer's order.
CATALOG: dict[str, Entry] = {
    "noise": Entry(("noise", "seed"), _waveform(lambda u: report.add_noise(u.y, u.rng, u.p["noise"]))),
    "time stretch": Entry(("rate",), _waveform(lambda u: report.time_stretch(u.y, u.p["rate"]))),
    "shift": Entry(("shift",), _waveform(lambda u: report.roll(u.y, u.p["shift"]))),
    "pitch shift": Entry(("semitones",), _waveform(lambda u: report.pitch_shift(u.y, u.p["semitones"],
                                                                                   u.cfg.sample_rate))),
    "report view 1: noise + stretch": Entry(("noise", "rate", "seed"), _waveform(_report_view_1)),
    "report view 2: shift + pitch": Entry(("shift", "semitones"), _waveform(_report_view_2)),
    "time crop": Entry(("crop", "seed"), _time_crop),
    "resized crop": Entry(("freq_scale", "time_scale", "seed"), _on_standardised(_resized_crop)),
    "frequency mask": Entry(("freq_mask", "seed"), _on_standardised(_mask(1, "freq_mask"))),
    "time mask": Entry(("time_mask", "seed"), _on_standardised(_mask(2, "time_mask"))),
    "log-mixup-exp": Entry(("mixup", "seed"), _mixup),
    "gain": Entry(("gain",), _gain),
    "vocal-tract warp": Entry(("alpha",), _warp("vocal tract")),
    "formant warp (pitch kept)": Entry(("alpha",), _warp("formant")),
    "pitch warp (formants kept)": Entry(("beta",), _warp("pitch")),
}


def apply(name: str, u: Utterance) -> tuple[np.ndarray, np.ndarray, str]:
    """Augmentation ``name`` of :data:`CATALOG` on ``u``: (audio, log-mel, how the audio was made)."""
    if name not in CATALOG:
        raise ValueError(f"no augmentation {name!r} in the catalog; choose one of {', '.join(CATALOG)}")
    return CATALOG[name].apply(u)

"""Degraded recordings: what a phone line, a noisy or reverberant room, a lossy file or a careless level
does to an utterance, each a small seeded function of a 16 kHz waveform (:data:`CONDITIONS` names the
test conditions of the robustness study, :data:`TRAINING` the multi-condition training's, which share the
families but never a parameter or a noise source).

- :func:`telephone`: down to 8 kHz, a 300–3,400 Hz band-pass (4th-order Butterworth, zero phase), 8-bit
  μ-law (G.711's companding), back up to 16 kHz;
- :func:`add_noise` at a signal-to-noise ratio, SNR = 10·log10(mean signal power / mean noise power) over
  the whole utterance, of :func:`white`, :func:`pink` (1/f power), :func:`brown` (1/f²) noise or babble
  (:func:`babble`: several other utterances summed; the robustness study mixes it only from the training
  speakers of the test utterance's fold);
- :func:`reverberate` with a synthetic room impulse response (:func:`impulse_response`: a direct path, then
  exponentially decaying Gaussian noise whose energy falls by 60 dB in RT60 seconds; its RT60, read back
  by Schroeder backward integration, :func:`rt60`, is the one asked for);
- :func:`compress`: OGG Vorbis or MP3 at a low quality, encoded and decoded by libsndfile (``soundfile``);
- :func:`gain` and :func:`clip` (hard clipping at a fraction of the utterance's peak).

Every random draw comes from ``np.random.default_rng([seed, condition, the waveform's CRC-32])``, so a
condition gives the same degraded file every time, and different files different noise.
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

SR = 16_000


def rng_for(name: str, y: np.ndarray, seed: int = 0) -> np.random.Generator:
    """The generator of condition ``name`` on waveform ``y``: seeded by ``seed``, the name and the audio."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(np.ascontiguousarray(y).tobytes())])


def power(y: np.ndarray) -> float:
    """Mean power of a waveform."""
    return float(np.mean(np.square(np.asarray(y, np.float64))))


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The SNR of ``noisy`` against ``clean`` (the noise is their difference), in dB."""
    return 10 * np.log10(power(clean) / max(power(np.asarray(noisy, np.float64) - clean), 1e-20))


# --- noises ---------------------------------------------------------------------------------------------

def _coloured(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise whose power falls as 1/f^exponent (0: white, 1: pink, 2: brown), unit power."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / SR)
    spectrum *= np.where(f > 0, np.maximum(f, 20.0), 20.0) ** (-exponent / 2)  # floor at 20 Hz: no DC blow-up
    noise = np.fft.irfft(spectrum, n)
    return noise / np.sqrt(power(noise) or 1.0)


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    return _coloured(n, rng, 0.0)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    return _coloured(n, rng, 1.0)


def brown(n: int, rng: np.random.Generator) -> np.ndarray:
    return _coloured(n, rng, 2.0)


def babble(n: int, rng: np.random.Generator, sources: Sequence[np.ndarray], talkers: int = 6) -> np.ndarray:
    """``talkers`` of ``sources`` (drawn without replacement), each looped to ``n`` samples from a random
    offset and set to unit power, summed, then set to unit power: the murmur of a room of voices."""
    if len(sources) < talkers:
        raise ValueError(f"babble needs {talkers} source utterances, got {len(sources)}")
    out = np.zeros(n)
    for i in rng.choice(len(sources), talkers, replace=False):
        s = np.asarray(sources[i], np.float64)
        s = np.roll(np.resize(s, n), int(rng.integers(len(s))))
        out += s / np.sqrt(power(s) or 1.0)
    return out / np.sqrt(power(out) or 1.0)


def synthetic_babble(n: int, rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """Babble of ``talkers`` utterances of the synthetic corpus's source-filter voices
    (:func:`emolib.data.synthetic.render_utterance`): a murmur of voices that belong to no recording."""
    from ..data import synthetic
    from ..data.emodb import EMOTIONS, SPEAKERS, TEXTS

    voices = [synthetic.render_utterance(str(rng.choice(sorted(SPEAKERS))), str(rng.choice(sorted(TEXTS))),
                                         str(rng.choice(sorted(EMOTIONS))), rng) for _ in range(talkers)]
    return babble(n, rng, voices, talkers)


def add_noise(y: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """``y`` plus ``noise`` scaled to the signal-to-noise ratio ``snr`` (dB, whole-utterance power)."""
    noise = np.asarray(noise, np.float64)[: len(y)]
    scale = np.sqrt(power(y) / (power(noise) * 10 ** (snr / 10)))
    return (np.asarray(y, np.float64) + scale * noise).astype(np.float32)


# --- channels ---------------------------------------------------------------------------------------------

def telephone(y: np.ndarray, low: float = 300.0, high: float = 3_400.0, mu_law: bool = True) -> np.ndarray:
    """A narrowband phone line: 8 kHz, a ``low``–``high`` Hz band-pass, 8-bit μ-law, back to 16 kHz."""
    import librosa
    from scipy.signal import butter, sosfiltfilt

    narrow = librosa.resample(np.asarray(y, np.float32), orig_sr=SR, target_sr=8_000, res_type="soxr_hq")
    narrow = sosfiltfilt(butter(4, [low, high], btype="bandpass", fs=8_000, output="sos"), narrow)
    if mu_law:  # librosa's G.711-style companding, quantised to 8 bits and back
        narrow = librosa.mu_expand(librosa.mu_compress(np.clip(narrow, -1, 1), mu=255, quantize=True), mu=255,
                                   quantize=True)
    wide = librosa.resample(np.asarray(narrow, np.float32), orig_sr=8_000, target_sr=SR, res_type="soxr_hq")
    return np.resize(wide, len(y)).astype(np.float32)


def impulse_response(rt60: float, rng: np.random.Generator, length: float | None = None) -> np.ndarray:
    """A synthetic room impulse response: a unit direct path, then Gaussian noise under an exponential
    envelope whose energy falls by 60 dB in ``rt60`` seconds (starting 1 ms after the direct path, 0.3 of
    its amplitude), ``length`` seconds long (default 1.2·RT60)."""
    n = int(round((length or 1.2 * rt60) * SR))
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-3 * np.log(10) * t / rt60) * 0.3  # amplitude: -60 dB at rt60
    tail[: int(0.001 * SR)] = 0.0
    tail[0] = 1.0
    return tail


def rt60(ir: np.ndarray, lo: float = -5.0, hi: float = -25.0) -> float:
    """The RT60 of an impulse response by Schroeder backward integration: a straight line fitted to the
    energy decay curve between ``lo`` and ``hi`` dB, extrapolated to -60 dB (T20)."""
    energy = np.cumsum(np.square(ir[::-1]))[::-1]
    edc = 10 * np.log10(energy / energy[0] + 1e-30)
    t = np.arange(len(ir)) / SR
    keep = (edc <= lo) & (edc >= hi)
    slope = np.polyfit(t[keep], edc[keep], 1)[0]
    return float(-60.0 / slope)


def reverberate(y: np.ndarray, rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` in a room of reverberation time ``rt60_s`` (:func:`impulse_response`), its power kept."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(np.asarray(y, np.float64), impulse_response(rt60_s, rng))[: len(y)]
    return (wet * np.sqrt(power(y) / (power(wet) or 1.0))).astype(np.float32)


def compress(y: np.ndarray, fmt: str = "OGG", level: float = 0.9) -> np.ndarray:
    """Through a lossy file and back: ``OGG`` (Vorbis) or ``MP3``, ``level`` the encoder's compression in
    [0, 1] (1: smallest file, lowest quality), by libsndfile."""
    import soundfile as sf

    subtype = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1), SR, format=fmt, subtype=subtype, compression_level=level)
    buf.seek(0)
    out, _ = sf.read(buf, dtype="float32")
    return np.resize(out, len(y)).astype(np.float32)  # an encoder's padding or delay: the same length


def gain(y: np.ndarray, db: float) -> np.ndarray:
    return (np.asarray(y, np.float32) * 10 ** (db / 20)).astype(np.float32)


def clip(y: np.ndarray, fraction: float = 0.25) -> np.ndarray:
    """Hard clipping at ``fraction`` of the utterance's peak (0.25: 12 dB of overdrive)."""
    level = fraction * float(np.max(np.abs(y)))
    return np.clip(y, -level, level).astype(np.float32)


# --- the conditions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """A named degradation: ``family`` (telephone, noise, reverb, codec, gain, clip) and its parameters.
    :meth:`apply` degrades one waveform; ``babble``: the other utterances a babble noise is mixed from."""

    name: str
    family: str
    params: dict = field(default_factory=dict, hash=False, compare=True)

    def apply(self, y: np.ndarray, seed: int = 0, babble_sources: Sequence[np.ndarray] = ()) -> np.ndarray:
        y = np.asarray(y, np.float32)
        rng = rng_for(self.name, y, seed)
        p = self.params
        if self.family == "telephone":
            return telephone(y, p.get("low", 300.0), p.get("high", 3_400.0), p.get("mu_law", True))
        if self.family == "noise":
            kind = p["noise"]
            noise = (babble(len(y), rng, babble_sources) if kind == "babble" else
                     synthetic_babble(len(y), rng) if kind == "synthetic_babble" else NOISES[kind](len(y), rng))
            return add_noise(y, noise, p["snr"])
        if self.family == "reverb":
            return reverberate(y, p["rt60"], rng)
        if self.family == "codec":
            return compress(y, p["format"], p["level"])
        if self.family == "gain":
            return gain(y, p["db"])
        if self.family == "clip":
            return clip(y, p["fraction"])
        raise ValueError(f"condition {self.name}: unknown family {self.family!r}")

    def key(self) -> str:
        """Stable words for a cache key."""
        return f"{self.name}:{self.family}:{sorted(self.params.items())}"


NOISES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {"white": white, "pink": pink, "brown": brown}


def _conditions(items) -> dict[str, Condition]:
    return {c.name: c for c in items}


#: The robustness study's test conditions (the issue's list; MP3 since this libsndfile writes it).
CONDITIONS: dict[str, Condition] = _conditions([
    Condition("telephone", "telephone", {"low": 300.0, "high": 3_400.0, "mu_law": True}),
    *(Condition(f"{kind}_{snr}db", "noise", {"noise": kind, "snr": snr})
      for kind in ("white", "pink", "babble") for snr in (20, 10, 0)),
    *(Condition(f"reverb_{t:g}s", "reverb", {"rt60": t}) for t in (0.3, 0.6, 1.0)),
    Condition("ogg", "codec", {"format": "OGG", "level": 0.9}),
    Condition("mp3", "codec", {"format": "MP3", "level": 0.9}),
    Condition("gain_plus20db", "gain", {"db": 20.0}),
    Condition("gain_minus20db", "gain", {"db": -20.0}),
    Condition("clipping", "clip", {"fraction": 0.25}),
])
#: The three conditions whose mean drop the study's target names: a phone line, babble at 10 dB, RT60 0.6 s.
TARGET = ("telephone", "babble_10db", "reverb_0.6s")

#: Multi-condition training's degradations: the same families, other parameters and other noise sources
#: (brown noise, and babble of the synthetic corpus's voices instead of real speakers; none of the test's
#: band limits, SNRs, RT60s, codec levels or gains).
TRAINING: dict[str, Condition] = _conditions([
    Condition("train_telephone", "telephone", {"low": 200.0, "high": 3_000.0, "mu_law": False}),
    Condition("train_brown_15db", "noise", {"noise": "brown", "snr": 15}),
    Condition("train_brown_5db", "noise", {"noise": "brown", "snr": 5}),
    Condition("train_babble_15db", "noise", {"noise": "synthetic_babble", "snr": 15}),
    Condition("train_babble_5db", "noise", {"noise": "synthetic_babble", "snr": 5}),
    Condition("train_reverb_0.45s", "reverb", {"rt60": 0.45}),
    Condition("train_reverb_0.8s", "reverb", {"rt60": 0.8}),
    Condition("train_ogg", "codec", {"format": "OGG", "level": 0.6}),
    Condition("train_gain_plus10db", "gain", {"db": 10.0}),
    Condition("train_clipping", "clip", {"fraction": 0.4}),
])


# --- degraded front-ends and multi-condition copies -------------------------------------------------------

class Degraded:
    """A front-end (:class:`emolib.data.features.Frontend`) that degrades the waveform by ``condition`` first:
    cached per original file under a key of the front-end, the condition, the seed and (for babble) the names
    of the utterances it is mixed from (``babble``; their waveforms ``sources``)."""

    def __init__(self, frontend, condition: Condition, babble: Sequence[str] = (),
                 sources: Sequence[np.ndarray] = (), seed: int = 0):
        self.frontend, self.condition, self.seed, self.sources = frontend, condition, seed, sources
        self.babble = tuple(babble)
        self.sample_rate = frontend.sample_rate

    @property
    def n_rows(self) -> int:
        return self.frontend.n_rows

    def key(self) -> str:
        import hashlib
        import json

        blob = json.dumps([self.frontend.key(), self.condition.key(), self.seed, sorted(self.babble)])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return self.frontend(self.condition.apply(y, self.seed, self.sources))


#: Degraded copies of each training utterance under multi-condition training.
COPIES = 2


def training_copies(files: Sequence[str], seed: int = 0, copies: int = COPIES) -> list[list[Condition]]:
    """The multi-condition training's ``copies`` conditions of each file: distinct, drawn from :data:`TRAINING`
    by a generator seeded with ``seed`` and the file's name, so a file always gets the same ones."""
    names = sorted(TRAINING)
    return [[TRAINING[n] for n in np.random.default_rng([seed, zlib.crc32(f.encode())]).choice(names, copies,
                                                                                              replace=False)]
            for f in files]

"""A synthetic, EmoDB-shaped corpus for fast tests and offline demos (docs/data.md).

It is not speech and results on it are never EmoDB results.  It keeps EmoDB's shape: the
10 speaker ids and genders (so the SI-5 speaker folds apply unchanged), the 7 emotions,
EmoDB text ids and the file-name scheme ``SSTTTEV.wav``, as 16 kHz 16-bit mono WAVs.

Each utterance comes from a source-filter model:

- *timing*: one syllable per vowel group of the German sentence, each lasting about
  1/rate seconds, with short pauses at some word boundaries and at commas;
- *source*: a glottal pulse train following an f0 contour (speaker base pitch, emotion
  level, declination, a pitch accent per syllable, a rise at a question mark), with
  per-pulse jitter and shimmer, optional creak (every second pulse damped), shaped by a
  glottal low-pass whose pole sets the spectral tilt, plus aspiration noise (breathiness);
- *filter*: per syllable, four formant resonators tuned to its vowel (scaled per speaker),
  a rounded syllable envelope and a short noise burst standing in for the onset consonant.

The speaker sets the base f0 (about 120 Hz male, 200 Hz female, +-2 semitones per speaker)
and the formant scale.  The emotion sets the prosody below (after the vocal-emotion
literature, e.g. Banse & Scherer 1996); every utterance also varies at random around it.
Files are deterministic: each one's random generator is seeded by (seed, file name).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter, sosfilt

from ..core import env
from ..core.errors import EmolibError
from .audio import SAMPLE_RATE
from .emodb import EMOTIONS, SPEAKERS, TEXTS


@dataclass(frozen=True)
class Prosody:
    pitch: float  # f0 level, semitones above the speaker's base
    range: float  # pitch-accent excursion, semitones
    rate: float  # syllables per second
    loud: float  # peak level, dBFS
    tilt: float  # glottal low-pass pole: low = tense, bright voice; high = lax, dark voice
    breath: float  # aspiration noise relative to the voiced source
    jitter: float  # pulse-position perturbation, fraction of a period
    shimmer: float  # pulse-amplitude perturbation, fraction
    creak: float  # damping of every second pulse (creaky, irregular voice)


PROSODY = {  #          pitch range rate  loud   tilt  breath jitter shimmer creak
    "anger":     Prosody(4.0,  7.0, 5.8,  -4.0, 0.80, 0.02, 0.010, 0.05, 0.0),
    "boredom":   Prosody(-2.0, 1.0, 3.8, -16.0, 0.95, 0.06, 0.005, 0.03, 0.0),
    "disgust":   Prosody(-1.0, 3.0, 3.8, -10.0, 0.90, 0.08, 0.040, 0.12, 0.5),
    "fear":      Prosody(7.0,  3.0, 6.5,  -9.0, 0.91, 0.30, 0.030, 0.08, 0.0),
    "happiness": Prosody(5.0,  8.0, 5.4,  -6.0, 0.87, 0.05, 0.008, 0.04, 0.0),
    "sadness":   Prosody(-1.0, 1.0, 3.2, -18.0, 0.97, 0.30, 0.015, 0.06, 0.0),
    "neutral":   Prosody(0.0,  3.0, 5.0, -11.0, 0.93, 0.05, 0.005, 0.03, 0.0),
}
DECLINATION = 3.0  # semitones the f0 falls over an utterance
NOISE_FLOOR = 3e-4  # RMS of the background noise added to every file (about -70 dBFS)

#: Formants F1-F4 (Hz) of German vowels for a male voice, and the resonator bandwidths.
FORMANTS = {
    "a": (700, 1220, 2600, 3500), "e": (400, 2000, 2550, 3500), "i": (290, 2250, 2900, 3600),
    "o": (420, 800, 2500, 3400), "u": (310, 800, 2300, 3300), "ä": (550, 1800, 2500, 3500),
    "ö": (400, 1500, 2300, 3400), "ü": (290, 1650, 2200, 3400),
}
BANDWIDTHS = (80.0, 100.0, 140.0, 200.0)
_VOWEL_GROUP = re.compile(r"[aeiouyäöü]+")
_DIPHTHONG_ONSET = {"ie": "i", "ei": "a", "ai": "a", "au": "a", "eu": "o", "äu": "o", "y": "ü"}


def syllables(sentence: str) -> tuple[list[str], np.ndarray]:
    """The vowel of each syllable (one per vowel group) and the break after it:
    0 inside a word, 1 at a word boundary, 2 at a comma."""
    vowels, breaks = [], []
    for token in re.findall(r"[^\W\d_]+|,", sentence.lower()):
        if token == ",":
            breaks[-1] = 2
            continue
        groups = _VOWEL_GROUP.findall(token)
        vowels += [_DIPHTHONG_ONSET.get(g[:2], g[0]) for g in groups]
        breaks += [0] * (len(groups) - 1) + [1]
    return vowels, np.array(breaks)


def speaker_voice(speaker: str) -> tuple[float, float]:
    """Base f0 (Hz) and formant scale of an EmoDB speaker id, fixed by the id alone."""
    rng = np.random.default_rng(int(speaker))
    female = SPEAKERS[speaker].gender == "f"
    f0 = (200.0 if female else 120.0) * 2 ** (rng.uniform(-2, 2) / 12)
    return f0, (1.15 if female else 1.0) * rng.uniform(0.96, 1.04)


def formant_filter(formants: np.ndarray, sr: int) -> np.ndarray:
    """Cascade of two-pole resonators, one per formant, each with unit gain at 0 Hz, as
    second-order sections for ``scipy.signal.sosfilt``."""
    r = np.exp(-np.pi * np.array(BANDWIDTHS) / sr)
    a1, a2 = -2 * r * np.cos(2 * np.pi * formants / sr), r * r
    zero = np.zeros_like(r)
    return np.column_stack([1 + a1 + a2, zero, zero, np.ones_like(r), a1, a2])


def render_utterance(speaker: str, text: str, letter: str, rng: np.random.Generator,
                     sr: int = SAMPLE_RATE) -> np.ndarray:
    """One utterance of EmoDB text ``text`` by ``speaker`` in emotion ``letter``, float32."""
    p = PROSODY[EMOTIONS[letter]]
    base_f0, formant_scale = speaker_voice(speaker)
    sentence = TEXTS[text][0]
    vowels, breaks = syllables(sentence)
    n = len(vowels)

    # Timing: syllable durations and pauses scale with the (randomly varied) speaking rate.
    rate = p.rate * rng.uniform(0.9, 1.1)
    dur = rng.uniform(0.7, 1.3, n) / rate
    word_pause = (breaks == 1) & (rng.random(n) < 0.15)
    pause = (np.where(breaks == 2, rng.uniform(0.15, 0.3, n), 0.0)
             + np.where(word_pause, rng.uniform(0.04, 0.12, n), 0.0)) * 5.0 / rate
    lead, tail = rng.uniform(0.1, 0.25, 2)
    starts = lead + np.concatenate([[0.0], np.cumsum(dur + pause)[:-1]])
    total = starts[-1] + dur[-1] + tail
    t = np.arange(int(total * sr)) / sr

    # f0 contour (semitones): level, accent per syllable, question rise, declination.
    stress = rng.uniform(0.5, 1.0, n)
    accent = p.range * rng.uniform(0.8, 1.2) * stress * rng.uniform(-0.4, 1.0, n)
    if sentence.endswith("?"):
        accent[-1] += p.range
    semitones = (p.pitch + rng.normal(0, 0.7) + np.interp(t, starts + dur / 2, accent)
                 - DECLINATION * t / total)
    f0 = base_f0 * 2 ** (semitones / 12)

    # Glottal source: one pulse per period, with jitter, shimmer and creak, then tilt.
    at = np.flatnonzero(np.diff(np.floor(np.cumsum(f0) / sr))) + 1
    at = at + np.round(rng.normal(0, p.jitter, at.size) * sr / f0[at]).astype(int)
    amp = 1 + rng.normal(0, p.shimmer, at.size)
    amp[1::2] *= 1 - p.creak
    source = np.zeros(t.size)
    np.add.at(source, np.clip(at, 0, t.size - 1), amp)
    source = lfilter([1.0, -1.0], [1.0, -2 * p.tilt, p.tilt**2], source)  # + lip radiation
    source += p.breath * source.std() * rng.standard_normal(t.size)

    # Vocal tract: per syllable, formants of its vowel, an envelope and an onset burst.
    y = np.zeros(t.size)
    for i, vowel in enumerate(vowels):
        a, b = int(starts[i] * sr), int((starts[i] + dur[i]) * sr)
        formants = np.array(FORMANTS[vowel]) * formant_scale * rng.uniform(0.95, 1.05, 4)
        seg = sosfilt(formant_filter(formants, sr), source[a:b])
        envelope = np.sqrt(np.sin(np.pi * (np.arange(b - a) + 0.5) / (b - a)))
        y[a:b] += stress[i] * envelope * seg
        m = min(int(0.04 * sr), b - a)
        burst = np.diff(rng.standard_normal(m + 2), 2)  # high-passed noise
        y[a:a + m] += 0.3 * stress[i] * seg.std() * np.linspace(1, 0, m) * burst

    y *= 10 ** ((p.loud + rng.uniform(-1, 1)) / 20) / np.max(np.abs(y))
    y += NOISE_FLOOR * rng.standard_normal(t.size)
    return y.astype(np.float32)


def file_rng(seed: int, name: str) -> np.random.Generator:
    """The random generator of one file, from the seed and a stable hash of its name."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


def make_synthetic_corpus(dest: str | os.PathLike, seed: int = 0,
                          texts: tuple[str, ...] = ("a01", "a02", "b01"),
                          versions: tuple[str, ...] = ("a",), sr: int = SAMPLE_RATE) -> Path:
    """Write the corpus (``dest/wav/*.wav`` and ``dest/README.md``) and return ``dest``.

    Every EmoDB speaker says every text in every emotion, once per version.  The files are
    written in a temporary folder beside ``dest`` that is renamed into place at the end.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise EmolibError(f"{dest} exists and is not empty; remove it or choose another folder "
                          "for the synthetic corpus")
    unknown = [x for x in texts if x not in TEXTS]
    if unknown or not texts:
        raise EmolibError(f"texts {unknown or texts!r}: give EmoDB text ids ({', '.join(TEXTS)})")
    if not versions or not all(re.fullmatch("[a-z]", v) for v in versions):
        raise EmolibError(f"versions {versions!r}: give single lower-case letters, e.g. ('a',)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        out = work / "corpus"
        (out / "wav").mkdir(parents=True)
        for speaker in SPEAKERS:
            for text in texts:
                for letter in EMOTIONS:
                    for version in versions:
                        name = f"{speaker}{text}{letter}{version}.wav"
                        y = render_utterance(speaker, text, letter, file_rng(seed, name), sr)
                        sf.write(out / "wav" / name, y, sr, subtype="PCM_16")
        n = len(SPEAKERS) * len(texts) * len(EMOTIONS) * len(versions)
        (out / "README.md").write_text(
            "# Synthetic EmoDB-shaped corpus\n\n"
            "SYNTHETIC DATA, NOT EmoDB: rendered by `emolib.data.synthetic` with a source-filter "
            "model and emotion-dependent prosody.\nResults on it must never be reported as "
            "EmoDB results.\n\n"
            f"- seed: {seed}\n- texts: {', '.join(texts)}\n- versions: {', '.join(versions)}\n"
            f"- speakers: {', '.join(SPEAKERS)} (EmoDB ids and genders)\n"
            f"- emotions: {', '.join(EMOTIONS.values())}\n"
            f"- files: {n}, {sr} Hz, 16-bit PCM, mono\n")
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(out, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def ensure_synthetic_corpus(seed: int = 0) -> Path:
    """The default synthetic corpus in the cache, generated on first use."""
    dest = env.cache_dir() / f"synthetic-seed{seed}"
    if not (dest / "wav").is_dir():
        try:
            make_synthetic_corpus(dest, seed=seed)
        except (OSError, EmolibError):
            if not (dest / "wav").is_dir():  # else another process generated it first
                raise
    return dest

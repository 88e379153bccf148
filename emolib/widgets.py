"""Interactive widgets for the notebooks (ipywidgets).

:class:`UtterancePlayer`: choose speaker, text, emotion and version; hear the utterance and
see its waveform and log-mel spectrogram.  The audio is an ``ipywidgets.Audio`` (an
``<audio>`` element in the browser) and the figure an ``ipywidgets.Image`` (an ``<img>``),
both replaced on every change.
"""
from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import soundfile as sf

from .audio import load_audio
from .corpus import EMOTIONS, TEXTS
from .features import LogMelConfig, log_mel
from .plots import waveform_and_logmel


def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    """A 16-bit WAV file in memory, for ``ipywidgets.Audio`` / ``IPython.display.Audio``."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1, 1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


class UtterancePlayer(W.VBox):
    """Pick an utterance by speaker, text, emotion and version; listen and look at it."""

    def __init__(self, meta: pd.DataFrame, cfg: LogMelConfig = LogMelConfig()):
        self.meta, self.cfg = meta, cfg
        letter_of = {v: k for k, v in EMOTIONS.items()}
        who = meta.drop_duplicates("speaker").sort_values("speaker")
        self.speaker = W.Dropdown(description="speaker", options=[
            (f"{s} ({g}, {a})", s) for s, g, a in zip(who.speaker, who.gender, who.age)])
        self.text = W.Dropdown(description="text", options=[
            (f"{t}: {TEXTS[t][0]}", t) for t in sorted(meta.text.unique())],
            layout=W.Layout(width="34em"))
        self.emotion = W.Dropdown(description="emotion", options=[
            (f"{e} ({letter_of[e]})", e) for e in meta.emotion.cat.categories
            if (meta.emotion == e).any()])
        self.version = W.Dropdown(description="version")
        self.status = W.HTML()
        self.audio = W.Audio(format="wav", autoplay=False, loop=False)
        self.image = W.Image(format="png")
        for w in (self.speaker, self.text, self.emotion):
            w.observe(self._update_versions, names="value")
        self.version.observe(self._render, names="value")
        super().__init__([W.HBox([self.speaker, self.emotion]), self.text,
                          W.HBox([self.version, self.status]), self.audio, self.image])
        self._update_versions()

    def _matches(self) -> pd.DataFrame:
        m = self.meta
        return m[(m.speaker == self.speaker.value) & (m.text == self.text.value)
                 & (m.emotion == self.emotion.value)]

    def _update_versions(self, change=None) -> None:
        versions = sorted(self._matches().version)
        self.version.options = versions
        if not versions:
            self.status.value = "<i>no recording of this combination; EmoDB is not complete</i>"
            self.audio.value, self.image.value = b"", b""
        elif self.version.value == versions[0]:
            self._render()  # same version letter of another utterance: no change event
        else:
            self.version.value = versions[0]  # the change event renders it

    def _render(self, change=None) -> None:
        rows = self._matches()
        rows = rows[rows.version == self.version.value]
        if rows.empty:
            return
        row = rows.iloc[0]
        y = load_audio(row.path, sr=self.cfg.sample_rate)
        self.audio.value = wav_bytes(y, self.cfg.sample_rate)
        title = f"{row.file}: {row.emotion}, speaker {row.speaker} ({row.gender}), “{row.gloss}”"
        self.image.value = png_bytes(waveform_and_logmel(y, log_mel(y, self.cfg), self.cfg, title))
        self.status.value = f"<b>{row.file}</b> · {row.duration:.2f} s · “{row.sentence}”"

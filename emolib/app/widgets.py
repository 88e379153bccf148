"""Interactive widgets for the notebooks (ipywidgets).

:class:`UtterancePlayer`: choose speaker, text, emotion and version; hear the utterance and
see its waveform and log-mel spectrogram.
:class:`AugmentationExplorer`: choose an utterance and an augmentation, move its parameters,
hear the result and compare the log-mels before and after on one colour scale.
:class:`TryIt`: upload a recording or pick an EmoDB file; hear it and see what a trained model
(:mod:`emolib.systems.final`) says about it, over time for long files.

The audio is an ``ipywidgets.Audio`` (an ``<audio>`` element in the browser) and the figure an
``ipywidgets.Image`` (an ``<img>``), both replaced on every change.
"""
from __future__ import annotations

import html
import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import soundfile as sf

from ..augmentation import catalog
from ..data.audio import load_audio
from ..data.emodb import EMOTIONS, TEXTS
from ..data.features import LogMelConfig, log_mel
from ..plots import logmel_grid, waveform_and_logmel
from ..plots import prediction as prediction_figure


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


def audio_row(clips: dict[str, np.ndarray], sr: int = 16_000) -> W.HBox:
    """Labelled audio players side by side, one per clip (name: waveform)."""
    return W.HBox([W.VBox([W.HTML(f"<b>{name}</b> ({len(y) / sr:.2f} s)"),
                           W.Audio(value=wav_bytes(y, sr), format="wav", autoplay=False, loop=False)])
                   for name, y in clips.items()], layout=W.Layout(flex_flow="row wrap"))


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
        self.add_class("emolib-utterance-player")  # a handle for styling and the browser test
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


#: The explorer's augmentations and the parameters each one uses (:data:`emolib.augmentation.catalog.CATALOG`).
EXPLORER_AUGMENTATIONS = {name: entry.params for name, entry in catalog.CATALOG.items()}


class AugmentationExplorer(W.VBox):
    """Pick an utterance and an augmentation, move its parameters, hear the result and see the
    original and augmented log-mels side by side on one colour scale.

    The augmentations, their parameters and how each is heard are :mod:`emolib.augmentation.catalog`'s;
    the ``seed`` slider draws what stays random (the noise, a crop's or mask's place, the other utterance
    for mixup).
    """

    def __init__(self, meta: pd.DataFrame, cfg: LogMelConfig = LogMelConfig(),
                 file: str | None = None, augmentation: str = "report view 1: noise + stretch"):
        self.meta, self.cfg = meta.reset_index(drop=True), cfg
        self.file = W.Dropdown(description="utterance", layout=W.Layout(width="30em"), options=[
            (f"{r.file}: {r.emotion}, speaker {r.speaker}", r.file) for r in self.meta.itertuples()],
            value=file or self.meta.file.iloc[0])
        self.augmentation = W.Dropdown(description="augmentation", options=list(EXPLORER_AUGMENTATIONS),
                                       value=augmentation, layout=W.Layout(width="30em"))
        style = {"description_width": "9em"}
        self.params = {key: (W.IntSlider if p.integer else W.FloatSlider)(
            value=p.default, min=p.low, max=p.high, step=p.step, description=p.label, style=style)
            for key, p in catalog.PARAMS.items()}
        self.status = W.HTML()
        self.original_audio = W.Audio(format="wav", autoplay=False, loop=False)
        self.audio = W.Audio(format="wav", autoplay=False, loop=False)
        self.image = W.Image(format="png")
        self.file.observe(self._render, names="value")
        self.augmentation.observe(self._render, names="value")
        for w in self.params.values():
            w.observe(self._render, names="value")
        players = W.HBox([W.VBox([W.HTML("original"), self.original_audio]),
                          W.VBox([W.HTML("augmented"), self.audio])])
        super().__init__([self.file, self.augmentation, W.VBox(list(self.params.values())),
                          players, self.status, self.image])
        self.add_class("emolib-augmentation-explorer")
        self._loaded = None
        self._render()

    def _load(self):
        if self._loaded is None or self._loaded[0] != self.file.value:
            row = self.meta[self.meta.file == self.file.value].iloc[0]
            y = load_audio(row.path, sr=self.cfg.sample_rate)
            self._loaded = (row.file, row, y, log_mel(y, self.cfg))
            self.original_audio.value = wav_bytes(y, self.cfg.sample_rate)
        return self._loaded[1:]

    def apply(self, y: np.ndarray, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
        """The selected augmentation with the current parameters (:func:`emolib.augmentation.catalog.apply`):
        (audio, log-mel, how the audio was made)."""
        return catalog.apply(self.augmentation.value, catalog.Utterance(
            y, mel, {k: w.value for k, w in self.params.items()}, self.cfg, other=self._other))

    def _other(self, rng: np.random.Generator) -> tuple[str, str, np.ndarray]:
        """Another utterance, drawn with ``rng``, for log-mixup-exp: (file, emotion, waveform)."""
        others = self.meta[self.meta.file != self.file.value]
        other = others.iloc[int(rng.integers(len(others)))]
        return other.file, other.emotion, load_audio(other.path, sr=self.cfg.sample_rate)

    def _render(self, change=None) -> None:
        row, y, mel = self._load()
        used = EXPLORER_AUGMENTATIONS[self.augmentation.value]
        for key, w in self.params.items():
            w.layout.display = None if key in used else "none"
        z, aug, how = self.apply(y, mel)
        self.audio.value = wav_bytes(z, self.cfg.sample_rate)
        fig = logmel_grid([[mel, aug]], [["original", self.augmentation.value]], self.cfg,
                          suptitle=f"{row.file}: {row.emotion}, speaker {row.speaker}",
                          vmin=float(np.percentile(mel, 1)), vmax=float(max(mel.max(), aug.max())))
        self.image.value = png_bytes(fig)
        self.status.value = (f"{row.file} · <b>{self.augmentation.value}</b>: "
                             f"{len(z) / self.cfg.sample_rate:.2f} s; you hear {how}")


class TryIt(W.VBox):
    """Upload a recording (or pick an EmoDB file), hear it and see what a trained model says: its
    log-mel, the seven class probabilities and, for files scored in windows, the emotion over time.

    ``model``: a :class:`emolib.systems.final.FinalModel` (without speaker normalisation: one recording
    cannot give a speaker's statistics).  ``held_out``: optional ``{file: emotion}`` predicted for each
    EmoDB file under SI-5 by a model that never heard its speaker (a committed predictions table), shown
    beside the final model's answer, since the final model was trained on every EmoDB file.
    """

    def __init__(self, model, meta: pd.DataFrame, held_out: dict[str, str] | None = None,
                 file: str | None = None, cfg: LogMelConfig = LogMelConfig()):
        if model.speaker_norm:
            raise ValueError("TryIt scores one recording at a time: give it a model without speaker normalisation")
        self.model, self.meta, self.cfg = model, meta.set_index("file", drop=False), cfg
        self.held_out = held_out or {}
        self.pick = W.Dropdown(description="EmoDB file", layout=W.Layout(width="30em"), options=[
            (f"{r.file} · {r.emotion} · speaker {r.speaker}", r.file) for r in meta.itertuples()],
            value=file or meta.file.iloc[0])
        self.upload = W.FileUpload(accept=".wav,.flac,.ogg,.mp3,audio/*", multiple=False,
                                   description="upload a recording")
        self.status = W.HTML()
        self.audio = W.Audio(format="wav", autoplay=False, loop=False)
        self.image = W.Image(format="png")
        self.pick.observe(self._picked, names="value")
        self.upload.observe(self._uploaded, names="value")
        super().__init__([W.HBox([self.pick, self.upload]), self.status, self.audio, self.image])
        self.add_class("emolib-try-it")  # a handle for styling and the browser test
        self._picked()

    def _picked(self, change=None) -> None:
        row = self.meta.loc[self.pick.value]
        note = (f"Labelled <b>{row.emotion}</b>. The final model was trained on this very file, so it knows the "
                "answer; ")
        if row.file in self.held_out:
            note += (f"under SI-5 the model that never heard speaker {row.speaker} said "
                     f"<b>{self.held_out[row.file]}</b>.")
        else:
            note += "upload a recording it has not heard to see it guess."
        self._show(row.path, row.file, note)

    def _uploaded(self, change=None) -> None:
        import os
        import tempfile

        if not self.upload.value:
            return
        item = self.upload.value[0]
        name = os.path.basename(item["name"]) or "upload"
        with tempfile.TemporaryDirectory(prefix="emolib-upload-") as tmp:  # removed again at once
            path = os.path.join(tmp, "recording" + os.path.splitext(name)[1])
            with open(path, "wb") as f:
                f.write(bytes(item["content"]))
            self._show(path, name, "An uploaded recording: the model has never heard it (nor, most likely, "
                       "its speaker).")
        self.upload.value = ()  # so that uploading the same file again is a change too

    def _show(self, path, name: str, note: str) -> None:
        from ..core.errors import EmolibError
        from ..systems.predict import predict_waves, read

        name = html.escape(name)
        try:
            (y,) = read([path])
        except EmolibError as e:
            reason = str(e).splitlines()[0].replace(str(path), "the file")
            self.status.value = f"<b>{name}</b>: cannot be scored: {html.escape(reason)}"
            self.audio.value, self.image.value = b"", b""
            return
        (p,), windows = predict_waves(self.model, [y], [name], per_window=True)
        self.audio.value = wav_bytes(y, self.cfg.sample_rate)
        title = f"{name}: {p.emotion} ({100 * p.probabilities[p.emotion]:.0f} %)"
        self.image.value = png_bytes(prediction_figure(log_mel(y, self.cfg), p.probabilities, windows, title, self.cfg))
        self.status.value = (f"<b>{name}</b> · {len(y) / self.cfg.sample_rate:.2f} s · predicted "
                             f"<b>{p.emotion}</b> by {self.model.info['row']}. {note}")

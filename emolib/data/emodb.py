"""EmoDB's facts: its emotions, speakers and texts, the grammar of its file names, and the layout
of its folder.

EmoDB (Burkhardt et al., Interspeech 2005; CC0-1.0) holds 535 utterances by 10 actors
(5 female, 5 male) speaking 10 German sentences in 7 emotions.  A file name
``03a01Fa.wav`` reads: speaker ``03``, text ``a01``, emotion letter ``F`` (Freude,
happiness), version ``a``.

Nothing here reads audio or touches the network: :mod:`emolib.data.corpus` finds the corpus and builds
its table, :mod:`emolib.data.download` gets and checks it, :mod:`emolib.data.synthetic` makes a stand-in.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from ..core.errors import FileNameError

#: Emotion letter (German initial) -> English name, in the class order used everywhere.
EMOTIONS = {
    "W": "anger",  # Wut / Ärger
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}
CLASSES = list(EMOTIONS.values())


class Speaker(NamedTuple):
    gender: str  # "f" or "m"
    age: int  # at recording


SPEAKERS = {
    "03": Speaker("m", 31), "08": Speaker("f", 34), "09": Speaker("f", 21),
    "10": Speaker("m", 32), "11": Speaker("m", 26), "12": Speaker("m", 30),
    "13": Speaker("f", 32), "14": Speaker("f", 35), "15": Speaker("m", 25),
    "16": Speaker("f", 31),
}

#: Text id -> (German sentence, English gloss), from the EmoDB documentation.
TEXTS = {
    "a01": ("Der Lappen liegt auf dem Eisschrank.", "The tablecloth is lying on the fridge."),
    "a02": ("Das will sie am Mittwoch abgeben.", "She will hand it in on Wednesday."),
    "a04": ("Heute abend könnte ich es ihm sagen.", "Tonight I could tell him."),
    "a05": ("Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
            "The black sheet of paper is up there beside the piece of timber."),
    "a07": ("In sieben Stunden wird es soweit sein.", "In seven hours it will be time."),
    "b01": ("Was sind denn das für Tüten, die da unter dem Tisch stehen?",
            "What are those bags standing there under the table?"),
    "b02": ("Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
            "They have just carried it upstairs and now they are going down again."),
    "b03": ("An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
            "At the weekends I have always gone home and visited Agnes."),
    "b09": ("Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
            "I just want to take this away and then go for a drink with Karl."),
    "b10": ("Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
            "It will be in the place where we always put it."),
}

N_UTTERANCES = 535
NAME_SCHEME = "SSTTTEV.wav (speaker 03-16, text a01-b10, emotion W/L/E/A/F/T/N, version a-z)"
_NAME_RE = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])\.wav$")


class Utterance(NamedTuple):
    speaker: str
    text: str
    letter: str
    emotion: str
    version: str


def parse_name(name: str | os.PathLike) -> Utterance:
    """Split an EmoDB file name into its parts, or raise FileNameError naming the file."""
    base = Path(name).name
    m = _NAME_RE.match(base)
    if not m:
        raise FileNameError(f"{name}: file name does not follow the EmoDB scheme {NAME_SCHEME}")
    speaker, text, letter, version = m.groups()
    for value, known, what in ((speaker, SPEAKERS, "speaker"), (text, TEXTS, "text"),
                               (letter, EMOTIONS, "emotion letter")):
        if value not in known:
            raise FileNameError(f"{name}: unknown {what} {value!r} (known: {', '.join(known)})")
    return Utterance(speaker, text, letter, EMOTIONS[letter], version)


# --- the folder ------------------------------------------------------------------------------

def wav_dir(root: str | os.PathLike) -> Path:
    """The folder holding the WAVs: ``root/wav`` (EmoDB's layout) or ``root`` itself."""
    root = Path(root)
    return root / "wav" if (root / "wav").is_dir() else root


def holds_wavs(root: str | os.PathLike) -> bool:
    """Whether ``root`` (or its ``wav/``) holds any WAV file."""
    d = wav_dir(root)
    return d.is_dir() and any(d.glob("*.wav"))

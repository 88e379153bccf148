"""EmoDB: the file-name grammar, the metadata table, and finding, downloading and verifying
the corpus.

EmoDB (Burkhardt et al., Interspeech 2005; CC0-1.0) holds 535 utterances by 10 actors
(5 female, 5 male) speaking 10 German sentences in 7 emotions.  A file name
``03a01Fa.wav`` reads: speaker ``03``, text ``a01``, emotion letter ``F`` (Freude,
happiness), version ``a``.

The corpus is found, in this order, at an explicit ``root``, at ``$EMODB_ROOT``, or in the
per-user cache (``emolib.config.cache_dir() / "emodb"``); when none holds it, it is
downloaded there.  Every downloaded WAV is checked against the SHA-256 manifest shipped in
``emolib/data/emodb_manifest.csv`` before the folder is moved into place.
"""
from __future__ import annotations

import csv
import http.client
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Iterable, NamedTuple

import pandas as pd

from . import config
from .audio import SAMPLE_RATE, describe_format
from .errors import AudioError, CorpusNotFoundError, DownloadError, FileNameError
from .files import sha256_file

# --- the corpus facts -----------------------------------------------------------------------

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
MAX_UNPACKED_BYTES = 1 << 30  # EmoDB's download.zip unpacks to about 50 MB
OFFICIAL_URL = "http://emodb.bilderbar.info/download/download.zip"
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


# --- finding the corpus -------------------------------------------------------------------

def wav_dir(root: str | os.PathLike) -> Path:
    """The folder holding the WAVs: ``root/wav`` (EmoDB's layout) or ``root`` itself."""
    root = Path(root)
    return root / "wav" if (root / "wav").is_dir() else root


def _holds_wavs(root: Path) -> bool:
    d = wav_dir(root)
    return d.is_dir() and any(d.glob("*.wav"))


def find_root(root: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Locate EmoDB: explicit ``root``, then ``$EMODB_ROOT``, then the cache (downloading)."""
    for given, what in ((root, "the given root"), (os.environ.get("EMODB_ROOT"), "EMODB_ROOT")):
        if given:
            if not _holds_wavs(Path(given)):
                raise CorpusNotFoundError(
                    f"{given} ({what}) holds no EmoDB WAV files; point it at the folder that "
                    "contains wav/ (or the WAVs themselves)")
            return Path(given)
    cached = config.cache_dir() / "emodb"
    if _holds_wavs(cached):
        return cached
    if download:
        try:
            return download_emodb(cached)
        except DownloadError as e:
            raise CorpusNotFoundError(
                f"EmoDB was not found and could not be downloaded ({e}). If you have a copy, "
                "point EMODB_ROOT at it: export EMODB_ROOT=/path/to/emodb (the folder that "
                "contains wav/)") from None
    raise CorpusNotFoundError(
        f"EmoDB was not found (no root given, EMODB_ROOT unset, nothing in {cached}). Run "
        "`python -m emolib data download`, or export EMODB_ROOT=/path/to/emodb")


def metadata(root: str | os.PathLike | None = None, download: bool = True) -> pd.DataFrame:
    """One row per utterance, sorted by file name.

    Columns: file, path, speaker, gender, age, text, sentence, gloss, emotion, letter,
    version, duration (s), sample_rate.  Raises FileNameError for a WAV named outside the
    scheme and AudioError for one that is not readable audio.
    """
    root = find_root(root, download=download) if root is None else Path(root)
    if not _holds_wavs(root):
        raise CorpusNotFoundError(f"{root}: no WAV files here; expected EmoDB's wav/ folder")
    rows = []
    for path in sorted(wav_dir(root).glob("*.wav")):
        u = parse_name(path)
        info = describe_format(path)
        rows.append({
            "file": path.name, "path": str(path), "speaker": u.speaker,
            "gender": SPEAKERS[u.speaker].gender, "age": SPEAKERS[u.speaker].age,
            "text": u.text, "sentence": TEXTS[u.text][0], "gloss": TEXTS[u.text][1],
            "emotion": u.emotion, "letter": u.letter, "version": u.version,
            "duration": info.frames / info.samplerate, "sample_rate": info.samplerate,
        })
    table = pd.DataFrame(rows)
    table["emotion"] = pd.Categorical(table["emotion"], categories=CLASSES)
    table.attrs["root"] = str(root)
    return table


def load_corpus(corpus: str | None = None, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Metadata of the chosen corpus: ``emodb`` (default) or ``synthetic`` (docs/data.md).

    ``corpus`` defaults to ``$EMOLIB_CORPUS``.  The table's ``attrs["corpus"]`` says which.
    """
    name = config.corpus_name(corpus)
    if name == "synthetic":
        from .synthetic import ensure_synthetic_corpus

        root = ensure_synthetic_corpus() if root is None else root
    table = metadata(root)
    table.attrs["corpus"] = name
    return table


# --- manifest and verification ------------------------------------------------------------

def read_manifest(path: str | os.PathLike | None = None) -> dict[str, str]:
    """File name -> SHA-256 of every EmoDB WAV (the shipped manifest unless ``path``)."""
    if path is None:
        text = resources.files("emolib").joinpath("data/emodb_manifest.csv").read_text()
    else:
        text = Path(path).read_text()
    return {row["file"]: row["sha256"] for row in csv.DictReader(text.splitlines())}


def write_manifest(root: str | os.PathLike, out: str | os.PathLike) -> int:
    """Write ``file,bytes,sha256`` for every WAV under ``root``; returns the count."""
    paths = sorted(wav_dir(root).glob("*.wav"))
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "bytes", "sha256"])
        for p in paths:
            w.writerow([p.name, p.stat().st_size, sha256_file(p)])
    return len(paths)


@dataclass
class VerifyReport:
    checked: int = 0
    ok: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, problem: str) -> None:
        self.problems.setdefault(name, []).append(problem)

    @property
    def missing(self) -> int:
        return sum(p == ["missing"] for p in self.problems.values())

    def lines(self) -> list[str]:
        return [f"{name}: {'; '.join(p)}" for name, p in sorted(self.problems.items())]


def check_file(path: Path, manifest: dict[str, str]) -> list[str]:
    """Everything wrong with one file, as short phrases (empty when it is a good EmoDB WAV)."""
    problems = []
    try:
        parse_name(path.name)
    except FileNameError:
        problems.append(f"file name does not follow the EmoDB scheme {NAME_SCHEME}")
    try:
        info = describe_format(path)
        if info.channels != 1 or info.samplerate != SAMPLE_RATE:
            problems.append(f"{info.channels} channel(s) at {info.samplerate} Hz; "
                            f"EmoDB files are mono at {SAMPLE_RATE} Hz")
    except AudioError as e:
        problems.append(str(e).removeprefix(f"{path}: "))
    if problems:  # a damaged file also fails the checksum; say what is wrong, once
        return problems
    if path.name not in manifest:
        problems.append("not an EmoDB file (absent from the manifest)")
    elif sha256_file(path) != manifest[path.name]:
        problems.append("content differs from the EmoDB manifest (SHA-256 mismatch); "
                        "re-copy or re-download it")
    return problems


def verify(root: str | os.PathLike, manifest: dict[str, str] | None = None) -> VerifyReport:
    """Check every WAV under ``root`` and that no manifest file is missing."""
    manifest = read_manifest() if manifest is None else manifest
    report = VerifyReport()
    present = sorted(wav_dir(root).glob("*.wav"))
    for path in present:
        report.checked += 1
        problems = check_file(path, manifest)
        for p in problems:
            report.add(path.name, p)
        report.ok += not problems
    names = {p.name for p in present}
    for name in sorted(set(manifest) - names):
        report.add(name, "missing")
    return report


# --- download -----------------------------------------------------------------------------

def mirrors() -> list[str]:
    """Download URLs to try in order: ``$EMOLIB_EMODB_URLS`` (space or comma separated), then
    the official ``download.zip``."""
    extra = re.split(r"[,\s]+", os.environ.get("EMOLIB_EMODB_URLS", "").strip())
    return [u for u in extra if u] + [OFFICIAL_URL]


def _fetch(url: str, dest: Path, timeout: float) -> None:
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            got = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc="EmoDB download") as bar:
                while block := r.read(1 << 16):
                    f.write(block)
                    got += len(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        raise DownloadError(f"{url}: {getattr(e, 'reason', e)}") from None
    if total is not None and got != total:
        raise DownloadError(f"{url}: truncated download ({got} of {total} bytes)")


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a zip, refusing the whole archive if any member is absolute, climbs out with
    ``..``, or is a symbolic link."""
    try:
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                name = PurePosixPath(info.filename.replace("\\", "/"))
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if name.is_absolute() or ".." in name.parts or re.match(r"^[A-Za-z]:", info.filename):
                    raise DownloadError(f"{archive.name}: unsafe member {info.filename!r} "
                                        "(absolute or '..' path); archive refused")
                if is_link:
                    raise DownloadError(f"{archive.name}: member {info.filename!r} is a "
                                        "symbolic link; archive refused")
            total = sum(info.file_size for info in z.infolist())
            if total > MAX_UNPACKED_BYTES:
                raise DownloadError(f"{archive.name}: would unpack to {total / 2**30:.1f} GiB "
                                    f"(EmoDB is about 50 MB); archive refused")
            z.extractall(dest)
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise DownloadError(f"{archive.name}: damaged or truncated zip archive ({e})") from None


def download_emodb(dest: str | os.PathLike | None = None, urls: Iterable[str] | None = None,
                   manifest: dict[str, str] | None = None, timeout: float = 30.0) -> Path:
    """Download, extract and verify EmoDB into ``dest`` (default: the cache).

    Each URL is tried in turn.  The archive is unpacked in a temporary folder beside
    ``dest``; only when every WAV matches the manifest is that folder renamed to ``dest``,
    so an interrupted or bad download never leaves a half-written corpus behind.
    """
    dest = Path(dest) if dest is not None else config.cache_dir() / "emodb"
    manifest = read_manifest() if manifest is None else manifest
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DownloadError(f"{dest} exists and is not an empty folder; verify it with `python -m emolib "
                            "data verify --root` or remove it, then download again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in (list(urls) if urls is not None else mirrors()):
        work = Path(tempfile.mkdtemp(prefix=".emodb-download-", dir=dest.parent))
        try:
            archive = work / "download.zip"
            _fetch(url, archive, timeout)
            unpacked = work / "emodb"
            safe_extract(archive, unpacked)
            if not _holds_wavs(unpacked):
                raise DownloadError(f"{url}: the archive holds no WAV files")
            report = verify(unpacked, manifest)
            if report.problems:
                first = report.lines()[:3]
                raise DownloadError(f"{url}: {len(report.problems)} file(s) do not match the "
                                    f"manifest, e.g. {' | '.join(first)}")
            if dest.exists():
                dest.rmdir()  # empty, checked above
            os.replace(unpacked, dest)
            return dest
        except DownloadError as e:
            errors.append(str(e) if url in str(e) else f"{url}: {e}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise DownloadError("; ".join(errors) or "no download URL given")

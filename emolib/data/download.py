"""Getting EmoDB and checking it: the SHA-256 manifest shipped in
``emolib/data/emodb_manifest.csv``, verification of a copy (``python -m emolib data verify``), and
the download (``python -m emolib data download``) with its zip-safety checks.

Every downloaded WAV is checked against the manifest before the folder is moved into place, so an
interrupted or bad download never leaves a half-written corpus behind.
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
from typing import Iterable

from ..core import env
from ..core.errors import AudioError, DownloadError, FileNameError
from ..core.files import sha256_file
from .audio import SAMPLE_RATE, describe_format
from .emodb import NAME_SCHEME, holds_wavs, parse_name, wav_dir

MAX_UNPACKED_BYTES = 1 << 30  # EmoDB's download.zip unpacks to about 50 MB
OFFICIAL_URL = "http://emodb.bilderbar.info/download/download.zip"


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
    dest = Path(dest) if dest is not None else env.cache_dir() / "emodb"
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
            if not holds_wavs(unpacked):
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

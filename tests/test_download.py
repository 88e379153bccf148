"""``download.download_emodb`` against a local HTTP server (127.0.0.1 only, never the internet)."""
from __future__ import annotations

import functools
import http.server
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from emolib.core.errors import CorpusNotFoundError, DownloadError
from emolib.core.files import sha256_file
from emolib.data import corpus, download

NAMES = ["03a01Fa.wav", "08a02Wb.wav", "16b10Td.wav"]
TIMEOUT = 5


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith("/chunked-cut/"):
            # A chunked response whose connection drops in the middle of a chunk.
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"1000\r\n" + b"PK" * 100)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


def serve(directory: Path):
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    return server, thread


def stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tone(freq, seconds=0.4, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def temp_dirs(folder: Path) -> list[Path]:
    return sorted(folder.glob(".emodb-download-*")) if folder.exists() else []


class Site:
    """A served folder holding test archives, the WAVs in them and their manifest."""

    def __init__(self, root: Path, server):
        self.root, self.server = root, server
        self.base = f"http://127.0.0.1:{server.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
def site(tmp_path, wav_writer):
    root = tmp_path / "site"
    src = tmp_path / "src" / "wav"
    for i, name in enumerate(NAMES):
        wav_writer(src / name, tone(220 + 110 * i), 16000)
    manifest = {name: sha256_file(src / name) for name in NAMES}

    root.mkdir()
    good = root / "download.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as z:
        for name in NAMES:
            z.write(src / name, f"wav/{name}")
        z.writestr("README.txt", "not a wav\n")
    raw = good.read_bytes()
    (root / "truncated.zip").write_bytes(raw[: len(raw) // 2])
    for label, member in [("dotdot", "../evil.wav"), ("dotdot2", "../../evil.wav"),
                          ("inner", "wav/../../../evil.wav"), ("abs", "/abs.wav")]:
        with zipfile.ZipFile(root / f"{label}.zip", "w") as z:
            z.write(src / NAMES[0], f"wav/{NAMES[0]}")
            z.writestr(member, (src / NAMES[1]).read_bytes())
    with zipfile.ZipFile(root / "nowavs.zip", "w") as z:
        z.writestr("docs/readme.txt", "nothing here\n")

    server, thread = serve(root)
    s = Site(root, server)
    s.src, s.manifest, s.good_bytes = src, manifest, raw
    s.dest = tmp_path / "downloads" / "emodb"
    yield s
    stop(server, thread)


def assert_clean(dest: Path):
    """A failed download leaves neither ``dest`` nor temporary folders behind."""
    assert not dest.exists()
    assert temp_dirs(dest.parent) == []


def assert_refused(site, name: str, match: str, manifest: dict | None = None):
    """Downloading ``name`` from the site fails with ``match`` and leaves nothing behind."""
    with pytest.raises(DownloadError, match=match):
        download.download_emodb(site.dest, urls=[site.url(name)],
                                manifest=site.manifest if manifest is None else manifest,
                                timeout=TIMEOUT)
    assert_clean(site.dest)


# --- success ------------------------------------------------------------------------------------

def test_good_download(site):
    got = download.download_emodb(site.dest, urls=[site.url("download.zip")],
                                  manifest=site.manifest, timeout=TIMEOUT)
    assert got == site.dest
    assert sorted(p.name for p in (site.dest / "wav").iterdir()) == sorted(NAMES)
    for name in NAMES:
        assert (site.dest / "wav" / name).read_bytes() == (site.src / name).read_bytes()
    report = download.verify(site.dest, site.manifest)
    assert report.problems == {} and report.ok == len(NAMES)
    assert temp_dirs(site.dest.parent) == []
    assert site.server.requests == ["/download.zip"]


def test_download_into_an_existing_empty_folder(site):
    site.dest.mkdir(parents=True)
    download.download_emodb(site.dest, urls=[site.url("download.zip")],
                            manifest=site.manifest, timeout=TIMEOUT)
    assert download.verify(site.dest, site.manifest).problems == {}


def test_second_mirror_used_when_first_is_404(site):
    got = download.download_emodb(site.dest, urls=[site.url("no/such/file.zip"),
                                                   site.url("download.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    assert got == site.dest
    assert download.verify(site.dest, site.manifest).problems == {}
    assert site.server.requests == ["/no/such/file.zip", "/download.zip"]
    assert temp_dirs(site.dest.parent) == []


def test_second_mirror_used_when_first_is_damaged(site):
    download.download_emodb(site.dest, urls=[site.url("truncated.zip"), site.url("download.zip")],
                            manifest=site.manifest, timeout=TIMEOUT)
    assert download.verify(site.dest, site.manifest).problems == {}


def test_all_mirrors_fail_reports_each(site):
    with pytest.raises(DownloadError) as info:
        download.download_emodb(site.dest, urls=[site.url("missing.zip"), site.url("truncated.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    assert "missing.zip" in str(info.value) and "truncated.zip" in str(info.value)
    assert_clean(site.dest)


# --- failures -------------------------------------------------------------------------------------

def test_truncated_archive(site):
    with pytest.raises(DownloadError) as info:
        download.download_emodb(site.dest, urls=[site.url("truncated.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    message = str(info.value)
    assert "damaged" in message or "truncated" in message
    assert site.url("truncated.zip") in message
    assert_clean(site.dest)


def test_corrupted_compressed_data(site):
    """Right length, central directory intact, deflate stream damaged in the middle."""
    raw = bytearray(site.good_bytes)
    with zipfile.ZipFile(site.root / "download.zip") as z:
        info = z.getinfo(f"wav/{NAMES[0]}")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    raw[middle:middle + 16] = bytes(range(0xF0, 0x100))
    (site.root / "corrupt.zip").write_bytes(bytes(raw))
    assert_refused(site, "corrupt.zip", "damaged")


def test_connection_dropped_mid_chunk(site):
    assert_refused(site, "chunked-cut/download.zip", "chunked-cut")


@pytest.mark.parametrize("label", ["dotdot", "dotdot2", "inner"])
def test_dotdot_member_refused(site, tmp_path, label):
    with pytest.raises(DownloadError) as info:
        download.download_emodb(site.dest, urls=[site.url(f"{label}.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    assert "unsafe" in str(info.value) and "evil.wav" in str(info.value)
    assert site.url(f"{label}.zip") in str(info.value)
    assert_clean(site.dest)
    for folder in [site.dest.parent, *site.dest.parent.parents]:
        assert not (folder / "evil.wav").exists()
    assert list(tmp_path.rglob("evil.wav")) == []


def test_absolute_member_refused(site, tmp_path):
    existed = Path("/abs.wav").exists()
    with pytest.raises(DownloadError) as info:
        download.download_emodb(site.dest, urls=[site.url("abs.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    assert "unsafe" in str(info.value) and "/abs.wav" in str(info.value)
    assert_clean(site.dest)
    assert Path("/abs.wav").exists() == existed
    assert list(tmp_path.rglob("abs.wav")) == []


def test_symlink_member_refused(site):
    link = zipfile.ZipInfo("wav/link.wav")
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(site.root / "link.zip", "w") as z:
        z.write(site.src / NAMES[0], f"wav/{NAMES[0]}")
        z.writestr(link, "/etc/passwd")
    assert_refused(site, "link.zip", "symbolic link")


def test_manifest_mismatch(site):
    bad = dict(site.manifest)
    bad[NAMES[1]] = "0" * 64
    with pytest.raises(DownloadError) as info:
        download.download_emodb(site.dest, urls=[site.url("download.zip")],
                                manifest=bad, timeout=TIMEOUT)
    assert NAMES[1] in str(info.value) and "SHA-256" in str(info.value)
    assert_clean(site.dest)


def test_manifest_file_missing_from_archive(site):
    more = dict(site.manifest, **{"09b03Lc.wav": "1" * 64})
    assert_refused(site, "download.zip", "09b03Lc.wav: missing", manifest=more)


def test_archive_without_wavs(site):
    assert_refused(site, "nowavs.zip", "no WAV files")


def test_unreachable_url(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/download.zip"
    dest = tmp_path / "dl" / "emodb"
    with pytest.raises(DownloadError) as info:
        download.download_emodb(dest, urls=[url], manifest={}, timeout=TIMEOUT)
    assert url in str(info.value)
    assert_clean(dest)


def test_no_urls(tmp_path):
    dest = tmp_path / "dl" / "emodb"
    with pytest.raises(DownloadError, match="no download URL"):
        download.download_emodb(dest, urls=[], manifest={}, timeout=TIMEOUT)
    assert_clean(dest)


def test_find_root_falls_back_to_a_clear_error(monkeypatch, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/download.zip"
    cache = tmp_path / "cache"
    monkeypatch.delenv("EMODB_ROOT", raising=False)
    monkeypatch.setenv("EMOLIB_CACHE", str(cache))
    monkeypatch.setenv("EMOLIB_EMODB_URLS", url)
    monkeypatch.setattr(download, "mirrors", lambda: [url])  # the official URL needs internet
    with pytest.raises(CorpusNotFoundError) as info:
        corpus.find_root()
    assert "EMODB_ROOT" in str(info.value) and url in str(info.value)
    assert not (cache / "emodb").exists()
    assert temp_dirs(cache) == []


def test_mirrors_reads_the_environment(monkeypatch):
    monkeypatch.setenv("EMOLIB_EMODB_URLS", " http://a/x.zip,http://b/y.zip  http://c/z.zip ")
    assert download.mirrors() == ["http://a/x.zip", "http://b/y.zip", "http://c/z.zip",
                                  download.OFFICIAL_URL]
    monkeypatch.delenv("EMOLIB_EMODB_URLS")
    assert download.mirrors() == [download.OFFICIAL_URL]


def test_existing_non_empty_dest_is_left_alone(site):
    site.dest.mkdir(parents=True)
    keep = site.dest / "keep.txt"
    keep.write_text("mine")
    with pytest.raises(DownloadError) as info:
        download.download_emodb(site.dest, urls=[site.url("download.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    assert str(site.dest) in str(info.value)
    assert [p.name for p in site.dest.iterdir()] == ["keep.txt"]
    assert keep.read_text() == "mine"
    assert site.server.requests == []
    assert temp_dirs(site.dest.parent) == []


def test_dest_that_is_a_file_is_refused(site):
    site.dest.parent.mkdir(parents=True, exist_ok=True)
    site.dest.write_text("a file, not a folder")
    with pytest.raises(DownloadError, match="not an empty folder"):
        download.download_emodb(site.dest, urls=[site.url("download.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    assert site.dest.read_text() == "a file, not a folder"


def test_archive_that_would_unpack_too_large_is_refused(site, monkeypatch):
    monkeypatch.setattr(download, "MAX_UNPACKED_BYTES", 1000)  # the site's WAVs are larger
    with pytest.raises(DownloadError, match="would unpack to"):
        download.download_emodb(site.dest, urls=[site.url("download.zip")],
                                manifest=site.manifest, timeout=TIMEOUT)
    assert not site.dest.exists() and temp_dirs(site.dest.parent) == []


# --- the real corpus ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_site(emodb_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("real-site")
    with zipfile.ZipFile(root / "download.zip", "w", zipfile.ZIP_STORED) as z:
        for path in sorted((emodb_root / "wav").glob("*.wav")):
            z.write(path, f"wav/{path.name}")
    server, thread = serve(root)
    yield f"http://127.0.0.1:{server.server_address[1]}/download.zip"
    stop(server, thread)


def test_real_corpus_download_verifies(real_site, tmp_path):
    dest = tmp_path / "dl" / "emodb"
    assert download.download_emodb(dest, urls=[real_site], timeout=TIMEOUT) == dest
    report = download.verify(dest)
    assert report.problems == {} and report.ok == report.checked == 535
    assert temp_dirs(dest.parent) == []


def test_find_root_downloads_the_real_corpus_into_the_cache(real_site, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    monkeypatch.delenv("EMODB_ROOT", raising=False)
    monkeypatch.setenv("EMOLIB_CACHE", str(cache))
    monkeypatch.setattr(download, "mirrors", lambda: [real_site])
    assert corpus.find_root() == cache / "emodb"
    assert download.verify(cache / "emodb").problems == {}
    assert corpus.find_root(download=False) == cache / "emodb"  # found again, no download

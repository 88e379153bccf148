"""End to end in a real browser, as users meet the project: JupyterLab serves copies of notebooks
01 and 02, headless Chromium (Debian's ``chromium``, driven by Playwright, no browser download)
runs them, and changing a dropdown or a slider of the utterance player or the augmentation
explorer must bring a new, playable audio clip and a new spectrogram image; uploading a recording
to notebook 06's "Try it" must bring its clip and a new prediction chart.

Skipped, with the reason, where Chromium or Playwright is absent, except where
``EMOLIB_REQUIRE_BROWSER=1`` (set by ``.ci/run``): there a missing browser fails.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from emolib.core.env import NOTEBOOKS

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required"]
SETUP_S, RUN_S, CHANGE_S = 120, 300, 90  # generous: CI runs this on 2 cores


def _unavailable(reason: str):
    if os.environ.get("EMOLIB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (EMOLIB_REQUIRE_BROWSER=1) but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        _unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed (pip install -r requirements.txt)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(chromium, emodb_root, tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token of the test's, serving copies of the notebooks
    (so that nothing the browser does, autosave included, touches the committed ones)."""
    root = tmp_path_factory.mktemp("lab")
    for name in ("01_dataset_exploration.ipynb", "02_augmentation_and_spectrograms.ipynb", "06_try_it.ipynb"):
        shutil.copy(NOTEBOOKS / name, root / name)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "EMODB_ROOT": str(emodb_root), "EMOLIB_PROFILE": "smoke",
           "JUPYTER_CONFIG_DIR": str(root / ".config"), "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "MPLBACKEND": "Agg"}
    log = open(root / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={root / '.settings'}",
         f"--LabApp.workspaces_dir={root / '.workspaces'}"]
        + (["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SETUP_S
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


def _run_notebook(browser, lab, name: str, widget_class: str):
    """Open ``name`` in JupyterLab, run all its cells, and return the page and the widget."""
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(RUN_S * 1000)
    # a workspace of its own, so JupyterLab does not restore the other test's notebook
    page.goto(f"{base}/lab/workspaces/{name.split('_')[0]}/tree/{name}?reset&token={token}")
    page.wait_for_function("""name => {
        const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        return w && w.context && w.context.path === name && w.sessionContext.session
            && w.sessionContext.session.kernel; }""", arg=name, timeout=SETUP_S * 1000)
    # the committed outputs go first: a widget view restored from them is not the one the kernel will answer
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    widget = page.locator(f".{widget_class}")
    widget.wait_for(state="attached")
    widget.scroll_into_view_if_needed()
    return page, widget


def _media(widget) -> dict:
    return widget.evaluate("""w => ({
        audio: [...w.querySelectorAll('audio')].map(a => a.src),
        images: [...w.querySelectorAll('img')].map(i => i.src)})""")


def _wait_for_new_media(page, widget, before: dict):
    """A new clip that the browser can play and a new image it has decoded, in ``widget``."""
    page.wait_for_function("""([w, before]) => {
        const audio = [...w.querySelectorAll('audio')].filter(a => a.src && !before.audio.includes(a.src));
        const images = [...w.querySelectorAll('img')].filter(i => i.src && !before.images.includes(i.src));
        return audio.some(a => a.readyState >= 1 && a.duration > 0.1)
            && images.some(i => i.complete && i.naturalWidth > 100);
    }""", arg=[widget.element_handle(), before], timeout=CHANGE_S * 1000)


def _wait_for_media(page, widget):
    page.wait_for_function("""w => [...w.querySelectorAll('audio')].some(a => a.src && a.duration > 0.1)
                                   && [...w.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 100)""",
                           arg=widget.element_handle())


def _wait_for_text(page, widget, text: str, timeout_s: float = CHANGE_S):
    """``text`` in ``widget``: the kernel sends the clip, the image and the status line as separate updates,
    so the status may arrive after the media."""
    page.wait_for_function("([w, t]) => w.innerText.includes(t)", arg=[widget.element_handle(), text],
                           timeout=timeout_s * 1000)


def test_utterance_player_in_jupyterlab(browser, lab):
    page, player = _run_notebook(browser, lab, "01_dataset_exploration.ipynb", "emolib-utterance-player")
    _wait_for_media(page, player)
    before = _media(player)
    player.locator(".widget-dropdown:has(label:text-is('emotion')) select").select_option(label="happiness (F)")
    _wait_for_new_media(page, player, before)
    _wait_for_text(page, player, "03a01Fa.wav")  # the status names the file
    page.close()


def test_augmentation_explorer_in_jupyterlab(browser, lab):
    page, explorer = _run_notebook(browser, lab, "02_augmentation_and_spectrograms.ipynb",
                                   "emolib-augmentation-explorer")
    _wait_for_media(page, explorer)
    before = _media(explorer)
    explorer.locator(".widget-dropdown:has(label:text-is('augmentation')) select").select_option(
        label="pitch shift")
    _wait_for_new_media(page, explorer, before)
    _wait_for_text(page, explorer, "pitch shift")

    before = _media(explorer)  # now a slider: semitones, moved with the keyboard
    handle = explorer.locator(".widget-slider:has(label:text-is('semitones')) .noUi-handle")
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    _wait_for_new_media(page, explorer, before)
    assert "1.2" in explorer.locator(".widget-slider:has(label:text-is('semitones'))").inner_text()
    page.close()


def test_try_it_upload_in_jupyterlab(browser, lab, emodb_root, tmp_path):
    """Upload a recording the way a user would (the file chooser of the FileUpload widget): a stereo
    44.1 kHz WAV that is not an EmoDB file; the widget must play it and draw a new chart."""
    import numpy as np
    import soundfile as sf

    from emolib.data.audio import load_audio

    y = load_audio(next((emodb_root / "wav").glob("16a01W*.wav")))
    import librosa

    y44 = librosa.resample(y, orig_sr=16_000, target_sr=44_100)
    upload = tmp_path / "my_recording.wav"
    sf.write(upload, np.stack([y44, 0.5 * y44], axis=1), 44_100, subtype="PCM_16")

    page, widget = _run_notebook(browser, lab, "06_try_it.ipynb", "emolib-try-it")
    _wait_for_media(page, widget)
    before = _media(widget)
    with page.expect_file_chooser() as chooser:  # the widget's button opens the browser's file dialog
        widget.locator(".widget-upload").click()
    chooser.value.set_files(str(upload))
    _wait_for_new_media(page, widget, before)
    # the kernel answers once it is free of the cells below the widget (the whole notebook runs)
    _wait_for_text(page, widget, "my_recording.wav", RUN_S)
    assert "predicted" in widget.inner_text()
    page.close()

"""The demo as a person uses it: started on localhost with a tiny random model, driven in headless
Chromium (Playwright): upload a photo, press Generate, see the generated image; then a preset path
and its video. Screenshots are kept as CI artifacts in ``$GENWARP_ARTIFACTS_DIR`` (default
``outputs/ci_artifacts/`` of the repository): ``demo_sliders.png``, ``demo_orbit.png`` and the
server log ``demo_server.log``.

Skips (with the reason) when gradio, Playwright or a Chromium binary is missing. Chromium is the
Debian package (``apt-get install chromium``), never a browser downloaded by Playwright.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from inference_helpers import REPO, script_env

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def _chromium() -> str | None:
    env = os.environ.get("GENWARP_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _artifacts_dir() -> Path:
    path = Path(os.environ.get("GENWARP_ARTIFACTS_DIR", REPO / "outputs" / "ci_artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the demo exited with status {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the demo did not answer on {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def browser_tools():
    """Playwright's sync API and the Chromium binary, or a skip naming what is missing."""
    pytest.importorskip("gradio", reason="the demo needs gradio (pip install -e '.[demo]')")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the browser test needs playwright (pip install playwright)")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (apt-get install chromium, or set GENWARP_CHROMIUM)")
    return sync_api, chromium


@pytest.fixture
def demo_server(browser_tools, room, tiny_depth_model, tmp_path):
    port = _free_port()
    log = _artifacts_dir() / "demo_server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "demo.py"), "--tiny-random", "--depth-model", str(tiny_depth_model),
             "--height", "64", "--width", "64", "--port", str(port), "--output-dir", str(tmp_path / "videos")],
            cwd=REPO, env=script_env(), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for_server(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_demo_in_a_real_browser(browser_tools, demo_server, room):
    sync_api, chromium = browser_tools
    artifacts = _artifacts_dir()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(demo_server, wait_until="domcontentloaded")
            page.wait_for_selector("#input-image input[type=file]", state="attached", timeout=60_000)
            page.set_input_files("#input-image input[type=file]", str(room["image"]))
            page.wait_for_selector("#input-image img", timeout=30_000)

            # one view from the camera sliders
            page.click("#generate-btn")
            page.wait_for_selector("#generated-view img", timeout=120_000)
            page.wait_for_selector("#warped-view img", timeout=10_000)
            sources = page.eval_on_selector("#generated-view img", "img => [img.src, img.naturalWidth]")
            assert sources[0] and sources[1] > 0, f"generated image not loaded: {sources}"
            assert "view(s) in" in page.inner_text("#status")
            page.screenshot(path=str(artifacts / "demo_sliders.png"), full_page=True)

            # a preset path: a video to watch and to download
            page.get_by_label("orbit").check()
            page.click("#generate-btn")
            page.wait_for_selector("#video video", timeout=120_000)
            page.wait_for_selector("#video-file a", timeout=30_000)
            assert "16 view(s)" in page.inner_text("#status")
            page.screenshot(path=str(artifacts / "demo_orbit.png"), full_page=True)
        finally:
            browser.close()
    assert (artifacts / "demo_sliders.png").stat().st_size > 10_000
    print(f"demo screenshots in {artifacts}")

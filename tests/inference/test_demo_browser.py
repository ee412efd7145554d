"""The demo as a person uses it: started on localhost with a tiny random model, driven in headless
Chromium (Playwright): upload a photo, press Generate, see the generated image; then a preset path
and its video. Screenshots are kept as CI artifacts in ``$GENWARP_ARTIFACTS_DIR`` (default
``outputs/ci_artifacts/`` of the repository): ``demo_sliders.png``, ``demo_orbit.png`` and the
server log ``demo_server.log``.

Locally it skips (with the reason) when gradio, Playwright or a Chromium binary is missing; under CI
(``CI`` set to ``true``/``1``/``yes``, as ``.ci/run`` runs) a missing one is a failure, because
``.ci/run`` installs all three. Chromium is the Debian package (``apt-get install chromium``), never
a browser downloaded by Playwright.
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


def under_ci() -> bool:
    """True where the environment says CI (``CI=true``: .ci/run's runner sets it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str):
    """Skip with ``reason`` locally; fail under CI, where .ci/run has installed every browser tool."""
    if under_ci():
        pytest.fail(f"{reason} -- CI={os.environ.get('CI')}: .ci/run installs it, so under CI this is a "
                    "failure, not a skip")
    pytest.skip(reason)


def require_browser_tools():
    """Playwright's sync API and the Chromium binary, or :func:`missing` naming what is absent."""
    import importlib

    for module, why in (("gradio", "the demo needs gradio (pip install -e '.[demo]')"),
                        ("playwright.sync_api", "the browser test needs playwright (pip install -e '.[ui-test]')")):
        try:
            loaded = importlib.import_module(module)
        except ImportError:
            missing(why)
    chromium = _chromium()
    if chromium is None:
        missing("no Chromium binary (apt-get install chromium, or set GENWARP_CHROMIUM)")
    return loaded, chromium


@pytest.fixture
def browser_tools():
    return require_browser_tools()


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


# --- a missing browser tool: a skip locally, a failure under CI ------------------------------------

def _outcome() -> tuple[str, str]:
    """What require_browser_tools() ends in: ("failed"|"skipped"|"returned", message). Caught here so
    that a skip where a failure is expected fails this test instead of skipping it."""
    try:
        require_browser_tools()
    except pytest.fail.Exception as e:
        return "failed", str(e)
    except pytest.skip.Exception as e:
        return "skipped", str(e)
    return "returned", ""


def test_missing_chromium_fails_under_ci_and_skips_locally(monkeypatch, tmp_path):
    monkeypatch.setenv("GENWARP_CHROMIUM", str(tmp_path / "no-such-chromium"))  # _chromium() -> None
    for module in ("gradio", "playwright.sync_api"):  # present (stand-ins where not installed)
        monkeypatch.setitem(sys.modules, module, sys.modules.get(module) or type(sys)(module))
    monkeypatch.setenv("CI", "true")
    kind, message = _outcome()
    assert kind == "failed" and "no Chromium binary" in message and "CI=true" in message, (kind, message)
    monkeypatch.delenv("CI")
    kind, message = _outcome()
    assert kind == "skipped" and "no Chromium binary" in message, (kind, message)


@pytest.mark.parametrize("module", ["gradio", "playwright.sync_api"])
def test_missing_python_package_fails_under_ci_and_skips_locally(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # its import raises ImportError
    monkeypatch.setenv("CI", "1")
    assert _outcome()[0] == "failed"
    monkeypatch.setenv("CI", "false")
    assert _outcome()[0] == "skipped"

"""Real-browser fixtures: Debian's chromium driven by Playwright, the app on a live port.

Chromium is found on PATH (apt packages chromium + chromium-driver; .ci/run installs them);
where it is absent the browser tests skip and say so. Playwright never downloads a browser
here: it launches that binary through executable_path.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.support.frames import face_crop, photo_rgb, webcam_frame
from tests.support.y4m import write_y4m

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)")
    return path


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def browser_for(chromium_path: str) -> Iterator[object]:
    """A function that launches chromium with a given Y4M file as its camera."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = []

        def launch(camera: Path) -> object:
            browser = pw.chromium.launch(
                executable_path=chromium_path,
                args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"],
            )
            launched.append(browser)
            return browser

        yield launch
        for browser in launched:
            browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


_STATUS_JS = """() => {
  const prompt = document.querySelector('#prompt');
  const login = document.querySelector('#login');
  return [prompt ? prompt.innerText : null, login ? login.dataset.state || null : null, location.pathname];
}"""


def page_status(page: object) -> tuple[str | None, str | None, str]:
    """(prompt text, login state, path) of the login page, or of whatever page it redirected to.

    Read in one evaluation, because a granted attempt navigates away to /account at any moment
    and a selector-based read would then wait for an element that no longer exists.
    """
    from playwright.sync_api import Error

    try:
        prompt, state, path = page.evaluate(_STATUS_JS)  # type: ignore[attr-defined]
    except Error:  # the page was navigating: its context is gone, the next read sees the new page
        return None, None, ""
    return prompt, state, path


def still_photo_camera(path: Path, photo: str, seconds: int = 3, fps: int = 15) -> Path:
    """A camera pointed at a still photo: the same picture with sensor noise in every frame."""
    base = webcam_frame(face_crop(photo_rgb(photo), size=440, scale=2.6), 640, 480)
    rng = np.random.default_rng(0)
    frames = [np.clip(base.astype(np.int16) + rng.integers(-4, 5, base.shape), 0, 255).astype(np.uint8) for _ in range(seconds * fps)]
    return write_y4m(path, frames, fps)

"""The login page in a real browser: camera from a Y4M file, frames to the server, the
server's prompts on screen, and a final decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, still_photo_camera
from tests.conftest import AppFactory
from tests.support.api import cli_add_user
from webapp.config import DEFAULTS

pytestmark = [pytest.mark.browser, pytest.mark.realmodels]


def test_still_photo_in_front_of_the_camera_is_denied(tmp_path: Path, app_factory: AppFactory, browser_for: Any, artifacts: Path) -> None:
    app = app_factory(DEFAULTS["LIVENESS_MODEL_DIR"])
    result = cli_add_user(app.test_cli_runner())
    assert result.exit_code == 0, result.output
    camera = still_photo_camera(tmp_path / "still.y4m", "obama2.jpg")

    with LiveServer(app) as server:
        browser = browser_for(camera)
        page = browser.new_page()
        console: list[str] = []
        page.on("console", lambda msg: console.append(msg.text))
        page.goto(f"{server.url}/login")
        page.fill("#username", "alice")
        page.click("#start")
        prompts: set[str] = set()
        # The page shows the server's prompts while frames stream, then the decision.
        for _ in range(120):
            text = page.inner_text("#prompt")
            prompts.add(text)
            if page.get_attribute("#login", "data-state") == "denied":
                break
            page.wait_for_timeout(250)
        page.screenshot(path=str(artifacts / "browser-login-still-photo-denied.png"), full_page=True)
        state = page.get_attribute("#login", "data-state")
        reason = page.get_attribute("#login", "data-reason")
        final_prompt = page.inner_text("#prompt")
        progress = float(page.get_attribute("#progress", "value") or page.evaluate("document.getElementById('progress').value"))

    assert state == "denied", (prompts, console)
    assert reason in ("challenge_failed", "spoof", "replay")
    assert final_prompt.startswith("Sign-in failed")
    assert any(
        p in prompts
        for p in (
            "Look straight at the camera.",
            "Blink a few times.",
            "Turn your head slowly to your left.",
            "Turn your head slowly to your right.",
        )
    )
    assert 0.0 < progress < 1.0
    with app.app_context():
        import sqlalchemy as sa

        from webapp.db.extensions import db
        from webapp.db.models import LoginAttempt

        attempt = db.session.scalar(sa.select(LoginAttempt))
        assert attempt is not None and attempt.frames_received >= 5 and attempt.state == "denied", (attempt.reason, attempt.detail)
        assert attempt.scores["matched_frames"] >= 3  # it was alice's face, just not alive

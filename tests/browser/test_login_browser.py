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
        # It was alice's face, just not alive (sparse encoding: only some frames are encoded).
        assert attempt.scores["matched_frames"] >= 1 and attempt.scores["worst_distance"] <= DEFAULTS["IDENTITY_MISMATCH_DISTANCE"]


def test_a_busy_service_makes_the_page_wait_and_retry(tmp_path: Path, app_factory: AppFactory, browser_for: Any) -> None:
    """Admission control: login/start answers 503 busy while the one slot is taken; the page
    counts the Retry-After down, asks again, and starts once the slot is free."""
    app = app_factory(DEFAULTS["LIVENESS_MODEL_DIR"], ADMISSION_MAX_ATTEMPTS=1, ADMISSION_IDLE_SECONDS=4, ADMISSION_RETRY_SECONDS=1)
    assert cli_add_user(app.test_cli_runner()).exit_code == 0
    camera = still_photo_camera(tmp_path / "still.y4m", "obama2.jpg")
    # Someone else's attempt holds the slot until it has been idle for 4 s.
    assert app.test_client().post("/api/v1/login/start", json={"username": "bob"}).status_code == 201

    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        page.goto(f"{server.url}/login")
        page.fill("#username", "alice")
        page.click("#start")
        prompts: list[str] = []
        for _ in range(120):
            prompts.append(page.inner_text("#prompt"))
            if page.get_attribute("#login", "data-state") is not None:
                break
            page.wait_for_timeout(100)
    busy = [p for p in prompts if p.startswith("The service is busy, retrying in")]
    assert busy, prompts
    assert page.get_attribute("#login", "data-state") in ("collecting", "denied"), prompts  # admitted in the end

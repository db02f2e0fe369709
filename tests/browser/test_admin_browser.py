"""Admin enrollment from the webcam, in a real browser with a fake camera."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, still_photo_camera
from tests.conftest import AppFactory
from tests.support.api import ADMIN_PASSWORD, create_admin
from webapp.web.texts import catalogue

pytestmark = [pytest.mark.browser, pytest.mark.realmodels]
TEXTS = catalogue("en")


_ENROLL_JS = """() => {
  const stage = document.querySelector('#enroll-stage'), hint = document.querySelector('#enroll-hint');
  return { fits: stage.dataset.fits || '', shown: !stage.hidden, hint: hint.dataset.hint || '', text: hint.innerText };
}"""


def _admin_on_new_user_page(page: Any, url: str, username: str = "alice") -> None:
    page.goto(f"{url}/admin/")
    assert "/admin/login" in page.url
    page.fill("#username", "root")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/admin/")
    page.fill("#new-username", username)
    page.fill("#new-display", username.title())
    page.click("form.row button[type=submit]")
    page.wait_for_url(f"{url}/admin/users/{username}")


def _watch_enrollment(page: Any, until: Any, seconds: float = 40.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll the enrollment stage (wait_for_function would evaluate a string, which our CSP
    rightly forbids) until ``until(state)``; every state seen, for the failure message."""
    seen: list[dict[str, Any]] = []
    for _ in range(int(seconds * 5)):
        now = page.evaluate(_ENROLL_JS)
        seen.append(now)
        if until(now):
            break
        page.wait_for_timeout(200)
    return now, seen


def test_admin_enrolls_a_user_from_the_webcam(tmp_path: Path, app_factory: AppFactory, browser_for: Any, artifacts: Path) -> None:
    from webapp.config import DEFAULTS

    app = app_factory(DEFAULTS["LIVENESS_MODEL_DIR"])
    runner = app.test_cli_runner()
    create_admin(runner)
    camera = still_photo_camera(tmp_path / "cam.y4m", "obama.jpg", seconds=12)

    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        _admin_on_new_user_page(page, server.url)
        page.click("#webcam-start")
        # The server's preview answers turn the oval green and say the face is ready.
        state, seen = _watch_enrollment(page, lambda s: s["fits"] == "true" and s["hint"] == "fits")
        assert state["fits"] == "true" and state["text"] == TEXTS["enroll.ready"], seen[-5:]
        page.screenshot(path=str(artifacts / "browser-admin-webcam-oval.png"), full_page=True)
        page.click("#webcam-enroll")
        page.wait_for_selector("#enroll-result:not([hidden])", timeout=30_000)
        # The page shows the capture's progress, then the server's answer: "Enrolled N."
        # (class "flash"), or an error (class "flash error").
        result, failed = "", False
        for _ in range(120):
            result = page.inner_text("#enroll-result")
            failed = "error" in (page.get_attribute("#enroll-result", "class") or "").split()
            if result.startswith("Enrolled") or failed:
                break
            page.wait_for_timeout(250)
        assert not failed and result == "Enrolled 5.", result
        # The page reloads to list the new templates.
        page.wait_for_selector('td:text-is("webcam")', timeout=15_000)
        page.screenshot(path=str(artifacts / "browser-admin-webcam-enroll.png"), full_page=True)

    listing = runner.invoke(args=["users", "list"]).output
    assert "alice\tuser\t5 faces" in listing


def test_webcam_enrollment_tells_a_far_face_to_come_closer(
    tmp_path: Path, app_factory: AppFactory, browser_for: Any, artifacts: Path
) -> None:
    """The sign-in's hints on the enrollment page: a face far from the camera gets "move
    closer" (the catalogue's sentence) and a white oval; nothing is enrolled by the preview."""
    from tests.browser.test_guidance_browser import hand_held_camera

    app = app_factory()
    runner = app.test_cli_runner()
    create_admin(runner)
    camera = hand_held_camera(tmp_path / "far.y4m", "far")

    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        _admin_on_new_user_page(page, server.url)
        page.click("#webcam-start")
        state, seen = _watch_enrollment(page, lambda s: s["hint"] == "move_closer")
        assert state["hint"] == "move_closer" and state["text"] == TEXTS["hint.move_closer"], seen[-5:]
        assert state["fits"] == "false" and state["shown"]
        page.screenshot(path=str(artifacts / "browser-admin-webcam-hint.png"), full_page=True)
        page.click("#webcam-stop")
        assert page.evaluate(_ENROLL_JS)["shown"] is False

    assert "alice\tuser\t0 faces" in runner.invoke(args=["users", "list"]).output


def test_dashboard_renders_its_charts_offline(tmp_path: Path, app_factory: AppFactory, browser_for: Any, artifacts: Path) -> None:
    """The dashboard's SVG charts in a real browser, under the app's CSP, with no network: the
    attempts are demo rows written here (random but plausible scores), for the picture."""
    from datetime import timedelta

    import numpy as np

    from webapp.config import DEFAULTS
    from webapp.db.extensions import db
    from webapp.db.models import FaceTemplate, LoginAttempt, User, utcnow

    app = app_factory(DEFAULTS["LIVENESS_MODEL_DIR"])  # its ensemble card's figures (no model is loaded)
    runner = app.test_cli_runner()
    create_admin(runner)
    rng = np.random.default_rng(3)
    with app.app_context():
        for u in range(6):
            user = User(username=f"user{u}", display_name=f"User {u}", role="user")
            db.session.add(user)
            db.session.flush()
            for _ in range(1 + u % 4):
                quality = float(rng.uniform(0.45, 0.9))
                db.session.add(FaceTemplate(user_id=user.id, encoding=b"\0" * 1024, encoding_model="demo", source="cli", quality=quality))
        db.session.commit()
    reasons = ["spoof", "no_match", "challenge_failed", "timeout", "multiple_faces"]
    with app.app_context():
        now = utcnow()
        for i in range(80):
            granted = rng.random() < 0.55
            at = now - timedelta(hours=float(rng.uniform(0, 30)))
            live = float(np.clip(rng.normal(0.85 if granted else 0.35, 0.12), 0, 1))
            distance = float(np.clip(rng.normal(0.36 if granted else 0.55, 0.08), 0, 1.2))
            db.session.add(
                LoginAttempt(
                    public_id=f"demo-{i}",
                    username=f"user{i % 6}",
                    user_id=None,
                    client_addr="192.0.2.1",
                    challenge=["blink", "turn_left"],
                    state="granted" if granted else "denied",
                    reason=None if granted else reasons[int(rng.integers(0, len(reasons)))],
                    created_at=at,
                    expires_at=at + timedelta(seconds=60),
                    finished_at=at + timedelta(seconds=12),
                    scores={"live_mean": round(live, 3), "best_distance": round(distance, 3)},
                )
            )
        db.session.commit()
    camera = still_photo_camera(tmp_path / "cam.y4m", "obama.jpg", seconds=1)
    with LiveServer(app) as server:
        page = browser_for(camera).new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("request", lambda req: problems.append(req.url) if not req.url.startswith(server.url) else None)
        page.goto(f"{server.url}/admin/login?next=/admin/dashboard")
        page.fill("#username", "root")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/admin/dashboard")
        boxes = [page.locator("svg.chart").nth(i).bounding_box() for i in range(page.locator("svg.chart").count())]
        page.screenshot(path=str(artifacts / "browser-admin-dashboard.png"), full_page=True)
    assert len(boxes) == 5 and all(b is not None and b["width"] > 300 and b["height"] > 30 for b in boxes), boxes
    assert problems == []  # nothing blocked by the CSP, nothing fetched from elsewhere

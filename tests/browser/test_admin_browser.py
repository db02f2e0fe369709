"""Admin enrollment from the webcam, in a real browser with a fake camera."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, still_photo_camera
from tests.conftest import AppFactory
from tests.support.api import ADMIN_PASSWORD, create_admin

pytestmark = [pytest.mark.browser, pytest.mark.realmodels]


def test_admin_enrolls_a_user_from_the_webcam(tmp_path: Path, app_factory: AppFactory, browser_for: Any, artifacts: Path) -> None:
    from webapp.config import DEFAULTS

    app = app_factory(DEFAULTS["LIVENESS_MODEL_DIR"])
    runner = app.test_cli_runner()
    create_admin(runner)
    camera = still_photo_camera(tmp_path / "cam.y4m", "obama.jpg")

    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        page.goto(f"{server.url}/admin/")
        assert "/admin/login" in page.url
        page.fill("#username", "root")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/admin/")
        page.fill("#new-username", "alice")
        page.fill("#new-display", "Alice")
        page.click("form.row button[type=submit]")
        page.wait_for_url(f"{server.url}/admin/users/alice")
        page.click("#webcam-enroll")
        page.wait_for_selector("#enroll-result:not([hidden])", timeout=30_000)
        # (wait_for_function would evaluate a string, which our CSP rightly forbids: poll.)
        # The page shows "Look at the camera..." while it grabs frames, then the server's
        # answer: "Enrolled N." (class "flash"), or an error (class "flash error").
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

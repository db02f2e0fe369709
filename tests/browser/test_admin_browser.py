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

"""Sign-in guidance in a real browser: each hint the server sends for a camera that is far,
dark, shows two faces or an off-centre face; the step's countdown and the denial naming the
missed step; the lockout screen; the phone-sized viewport. Every camera is a Y4M made here
from a test photo, moved a little in every frame as a hand-held picture is (an exact loop
repeats frames, which the replay check rightly refuses)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.browser.conftest import LiveServer
from tests.conftest import AppFactory, EnrolledDatabases
from tests.support.frames import face_crop, photo_rgb
from tests.support.y4m import write_y4m
from webapp.web.texts import catalogue

pytestmark = [pytest.mark.browser]
TEXTS = catalogue("en")
W, H = 640, 480


def _placed(photo: str, size: int, centre: tuple[float, float]) -> np.ndarray:
    """A W x H grey frame with the photo's face (crop ``size`` px) centred at ``centre`` (shares)."""
    crop = face_crop(photo_rgb(photo), size=size, scale=2.6)
    out = np.full((H, W, 3), 120, np.uint8)
    x, y = int(centre[0] * W - size / 2), int(centre[1] * H - size / 2)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + size), min(H, y + size)
    out[y0:y1, x0:x1] = crop[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


def _two_faces() -> np.ndarray:
    pair = np.hstack([face_crop(photo_rgb("obama2.jpg"), size=300, scale=2.2), face_crop(photo_rgb("biden.jpg"), size=300, scale=2.2)])
    out = np.full((H, W, 3), 120, np.uint8)
    y = (H - 300) // 2
    out[y : y + 300, 20:620] = pair
    return out


SCENES: dict[str, Callable[[], np.ndarray]] = {
    "normal": lambda: _placed("obama2.jpg", 440, (0.5, 0.5)),
    "far": lambda: _placed("obama2.jpg", 210, (0.5, 0.5)),  # face box ~0.15 of the frame width
    "dark": lambda: (_placed("obama2.jpg", 440, (0.5, 0.5)) * 0.12).astype(np.uint8),  # 12 % brightness
    "two_faces": _two_faces,
    "off_centre": lambda: _placed("obama2.jpg", 400, (0.8, 0.5)),
}


def hand_held_camera(path: Path, scene: str, seconds: int = 12, fps: int = 15) -> Path:
    base = SCENES[scene]()
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(seconds * fps):
        matrix = cv2.getRotationMatrix2D((W / 2, H / 2), float(rng.uniform(-0.6, 0.6)), 1.0)
        matrix[:, 2] += rng.uniform(-2.5, 2.5, 2)
        moved = cv2.warpAffine(base, matrix, (W, H), borderMode=cv2.BORDER_REPLICATE)
        frames.append(np.clip(moved.astype(np.int16) + rng.integers(-3, 4, moved.shape), 0, 255).astype(np.uint8))
    return write_y4m(path, frames, fps)


def _app_with_alice(app_factory: AppFactory, enrolled_db: EnrolledDatabases, **config: Any) -> Any:
    app = app_factory(**config)
    enrolled_db.copy_into(app)
    return app


_READ_JS = """() => {
  const q = (s) => document.querySelector(s);
  const login = q('#login'), stage = q('#stage'), cd = q('#countdown');
  return {
    prompt: q('#prompt').innerText, hint: q('#hint').dataset.hint || '', hintText: q('#hint').innerText,
    state: login.dataset.state || '', reason: login.dataset.reason || '', missed: login.dataset.missedStep || '',
    fits: stage.dataset.fits || '', countdown: cd.hidden ? null : cd.innerText, retry: !q('#retry').hidden,
    locked: !q('#locked').hidden, lockedText: q('#locked-text').innerText, path: location.pathname,
  };
}"""


def _poll(page: Any, until: Callable[[dict[str, Any]], bool], seconds: float = 40.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    for _ in range(int(seconds * 5)):
        now = page.evaluate(_READ_JS)
        seen.append(now)
        if until(now):
            return now, seen
        page.wait_for_timeout(200)
    return now, seen


def _keep_frame_answer(response: Any, into: list[dict[str, Any]]) -> None:
    from playwright.sync_api import Error

    if response.url.endswith("/frames") and response.ok:
        with contextlib.suppress(Error):  # the page closed before the body was read
            into.append(response.json())


def _start(page: Any, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", "alice")
    page.click("#start")


@pytest.mark.parametrize(
    ("scene", "hint"), [("far", "move_closer"), ("dark", "too_dark"), ("two_faces", "multiple_faces"), ("off_centre", "off_centre")]
)
def test_each_hint_is_shown_for_its_camera(
    scene: str, hint: str, tmp_path: Path, app_factory: AppFactory, enrolled_db: EnrolledDatabases, browser_for: Any, artifacts: Path
) -> None:
    app = _app_with_alice(app_factory, enrolled_db)
    camera = hand_held_camera(tmp_path / f"{scene}.y4m", scene)
    served: list[dict[str, Any]] = []
    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        page.on("response", lambda r: _keep_frame_answer(r, served))
        _start(page, server.url)
        now, _ = _poll(page, lambda s: s["hint"] == hint or s["state"] == "denied")
        page.screenshot(path=str(artifacts / f"browser-hint-{scene}.png"), full_page=True)
        assert now["hint"] == hint, (now, served[-3:])
        assert now["hintText"] == TEXTS[f"hint.{hint}"]
        # The oval stays white until the face is where it should be (a dark face can be).
        assert now["fits"] == ("true" if hint == "too_dark" else "false")
        assert all(set(r) >= {"hints", "face_fits", "step_seconds_left", "missed_step"} for r in served)
        assert not any(k in json.dumps(served) for k in ("live_score", "distance"))  # hints, never scores
        if scene == "two_faces":
            # A few seconds' grace to step out of view, then the attempt is denied.
            now, _ = _poll(page, lambda s: s["state"] == "denied")
            assert now["reason"] == "multiple_faces" and now["prompt"] == TEXTS["denied.multiple_faces"]
            assert sum(1 for r in served if "multiple_faces" in r["hints"]) >= 2
        else:
            page.click("#cancel")
            now, _ = _poll(page, lambda s: s["state"] == "cancelled", seconds=5)
            assert now["state"] == "cancelled" and now["prompt"] == TEXTS["cancelled"]
            assert page.is_visible("#username") and not page.is_visible("#stage")


_SLOW_AFTER_FRAME = """async () => {
  const m = await import('/static/js/login-steps.js');  // the module instance login.js uses
  window.__answers = 0;
  m.addLoginStep({ afterFrame: () => { window.__answers += 1; return new Promise((r) => setTimeout(r, 1500)); } });
}"""


def test_a_cancel_while_a_frame_answer_is_handled_stays_cancelled(
    tmp_path: Path, app_factory: AppFactory, enrolled_db: EnrolledDatabases, browser_for: Any
) -> None:
    """The cancel can land between a frame answer's arrival and its handling (the body being
    read, an async afterFrame hook): that late answer must not bring back 'collecting' and a
    prompt over the sign-in form. The hook holds each answer for 1.5 s so the cancel always
    lands inside that window."""
    app = _app_with_alice(app_factory, enrolled_db)
    camera = hand_held_camera(tmp_path / "normal.y4m", "normal")
    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        page.goto(f"{server.url}/login")
        page.evaluate(_SLOW_AFTER_FRAME)
        page.fill("#username", "alice")
        page.click("#start")
        for _ in range(400):  # wait_for_function evaluates a string, which the page's CSP refuses
            if page.evaluate("() => window.__answers") >= 1:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("() => window.__answers") >= 1
        page.click("#cancel")
        page.wait_for_timeout(2500)  # past the held answer
        now = page.evaluate(_READ_JS)
        assert now["state"] == "cancelled" and now["prompt"] == TEXTS["cancelled"], now
        assert page.is_visible("#username") and not page.is_visible("#stage")


def test_countdown_then_the_denial_names_the_missed_step(
    tmp_path: Path, app_factory: AppFactory, enrolled_db: EnrolledDatabases, browser_for: Any, artifacts: Path
) -> None:
    app = _app_with_alice(app_factory, enrolled_db, CHALLENGE_STEPS=["turn_left"], CHALLENGE_COUNT=1, CHALLENGE_STEP_MAX_SECONDS=5.0)
    camera = hand_held_camera(tmp_path / "still.y4m", "normal", seconds=14)
    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        _start(page, server.url)
        now, seen = _poll(page, lambda s: (s["countdown"] not in (None, "") and s["countdown"] <= "3") or s["state"] == "denied")
        page.screenshot(path=str(artifacts / "browser-login-mid-challenge.png"), full_page=True)
        now, more = _poll(page, lambda s: s["state"] == "denied")
        page.screenshot(path=str(artifacts / "browser-login-denied-missed-step.png"), full_page=True)
    counts = [int(s["countdown"]) for s in seen + more if s["countdown"]]
    assert counts and max(counts) >= 4 and min(counts) <= 2, counts  # it counted down from the 5 s budget
    assert any(s["fits"] == "true" for s in seen + more)  # a well-placed face turned the oval green
    assert now["reason"] == "challenge_failed" and now["missed"] == "turn_left", now
    assert now["prompt"] == TEXTS["denied.challenge_failed_step"].format(step=TEXTS["step.turn_left"])
    assert now["retry"] and now["countdown"] is None


def test_a_locked_account_shows_the_wait_and_no_retry(
    tmp_path: Path, app_factory: AppFactory, enrolled_db: EnrolledDatabases, browser_for: Any, artifacts: Path
) -> None:
    from datetime import timedelta

    from webapp.db.extensions import db
    from webapp.db.models import LoginAttempt, utcnow

    # A failure that judged a face, from another device: a new device meets the account-wide
    # slowdown (login/throttle.py), here 10 minutes after one failure.
    app = _app_with_alice(
        app_factory, enrolled_db, ACCOUNT_SLOWDOWN_AFTER=1, ACCOUNT_SLOWDOWN_BASE_SECONDS=600, ACCOUNT_SLOWDOWN_MAX_SECONDS=600
    )
    with app.app_context():
        now = utcnow()
        db.session.add(
            LoginAttempt(
                public_id="failed-before",
                username="alice",
                client_addr="198.51.100.7",
                challenge=[],
                state="denied",
                reason="no_match",
                created_at=now - timedelta(seconds=5),
                expires_at=now + timedelta(seconds=55),
                finished_at=now,
                face_frames=5,
            )
        )
        db.session.commit()
    camera = hand_held_camera(tmp_path / "cam.y4m", "normal", seconds=2)
    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        _start(page, server.url)
        state, _ = _poll(page, lambda s: s["locked"], seconds=15)
        page.wait_for_timeout(1200)  # the wait ticks down each second
        later = page.evaluate(_READ_JS)
        page.screenshot(path=str(artifacts / "browser-login-locked.png"), full_page=True)
    assert state["locked"] and state["state"] == "locked"
    assert "10:00" in state["lockedText"] or "9:5" in state["lockedText"], state["lockedText"]
    assert later["lockedText"] != state["lockedText"] and "9:5" in later["lockedText"]
    assert not state["retry"] and not later["retry"]  # no retry button while locked


def test_phone_viewport_keeps_a_portrait_stage_and_a_round_oval(
    tmp_path: Path, app_factory: AppFactory, enrolled_db: EnrolledDatabases, browser_for: Any, artifacts: Path
) -> None:
    app = _app_with_alice(app_factory, enrolled_db)
    camera = hand_held_camera(tmp_path / "cam.y4m", "normal", seconds=8)
    with LiveServer(app) as server:
        browser = browser_for(camera)
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
        _start(page, server.url)
        now, _ = _poll(page, lambda s: s["fits"] == "true" or s["state"] == "denied", seconds=30)
        page.screenshot(path=str(artifacts / "browser-login-phone.png"), full_page=True)
        stage = page.locator("#stage").bounding_box()
        oval = page.locator("#oval").bounding_box()
        page.click("#cancel")
    assert now["fits"] == "true", now
    assert stage is not None and oval is not None
    assert stage["height"] > stage["width"] and stage["width"] <= 390  # portrait, inside the screen
    # Proportions kept: the oval's on-screen aspect is the one drawn (118 x 158), not squashed.
    assert oval["width"] / oval["height"] == pytest.approx(118 / 158, rel=0.04)
    assert oval["height"] < stage["height"]  # the whole face, forehead to chin, fits on screen


def test_a_granted_sign_in_shows_it_then_opens_the_account(
    tmp_path: Path,
    app_factory: AppFactory,
    enrolled_db: EnrolledDatabases,
    browser_for: Any,
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The person does what each prompt asks (their landmark signals are scripted, as in the API
    tests: a photo cannot turn its head); everything else is the real pipeline and page."""
    from tests.support.api import follow_prompts

    app = _app_with_alice(app_factory, enrolled_db, CHALLENGE_STEPS=["turn_left"], CHALLENGE_COUNT=1)
    follow_prompts(monkeypatch, ["turn_left"])
    camera = hand_held_camera(tmp_path / "cam.y4m", "normal", seconds=10)
    with LiveServer(app) as server:
        page = browser_for(camera).new_page()
        # Answer the page's move to /account with 204 No Content, so it stays on the granted
        # sign-in for the picture; then open the account page for real.
        page.route("**/account", lambda route: route.fulfill(status=204))
        _start(page, server.url)
        now, _ = _poll(page, lambda s: s["state"] in ("granted", "denied"), seconds=90)
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifacts / "browser-login-granted.png"), full_page=True)
        page.unroute("**/account")
        page.goto(f"{server.url}/account")
        welcome = page.inner_text("h1")
    assert now["state"] == "granted", now
    assert now["prompt"] == TEXTS["granted"]
    assert welcome == "Welcome, Alice Example"

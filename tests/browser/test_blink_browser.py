"""A person who follows the prompt gets through the blink step, in a real browser.

The camera is a Y4M built from real frames of ../shared/datasets/videos/sivakumar/Kevin.mp4,
in the segment `python -m ml.blink.find_segment` picks with the shipped blink detector (a
steady frontal face from 0.06 s, one clear blink at 2.38 s, eyes closed for 134 ms), played at
its real speed. The prompt asks for a few blinks, so the camera shows 1.95-2.75 s of the clip
(the face steady, then that blink) several times over, each repeat shifted by a pixel as a
person is never in exactly the same place (an exact loop repeats frames, which the replay
check rightly refuses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import sqlalchemy as sa

from tests.browser.conftest import LiveServer, page_status
from tests.conftest import AppFactory
from tests.support.y4m import write_y4m
from webapp.config import DEFAULTS

pytestmark = [pytest.mark.browser, pytest.mark.realmodels, pytest.mark.dataset]
SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
VIDEO = SHARED / "videos" / "sivakumar" / "Kevin.mp4"
PHOTOS = SHARED / "identity" / "sivakumar" / "Kevin"
SEGMENT_S = (1.95, 2.75)
REPEATS = 10


@pytest.fixture
def kevin_camera(tmp_path: Path) -> Path:
    if not VIDEO.exists() or not PHOTOS.is_dir():
        pytest.skip(f"needs the shared dataset ({VIDEO} and {PHOTOS}); absent here")
    cap = cv2.VideoCapture(str(VIDEO))
    fps = cap.get(cv2.CAP_PROP_FPS)
    segment = []
    index = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if SEGMENT_S[0] <= index / fps < SEGMENT_S[1]:
            segment.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    cap.release()
    frames = []
    for k in range(REPEATS):
        shift = np.float32([[1, 0, k], [0, 1, 0]])
        frames += [cv2.warpAffine(f, shift, (f.shape[1], f.shape[0]), borderMode=cv2.BORDER_REPLICATE) for f in segment]
    return write_y4m(tmp_path / "kevin.y4m", frames, fps=round(fps))


def test_a_real_blink_completes_the_blink_step(app_factory: AppFactory, kevin_camera: Path, browser_for: Any, artifacts: Path) -> None:
    app = app_factory(DEFAULTS["LIVENESS_MODEL_DIR"], CHALLENGE_STEPS=["blink"], CHALLENGE_COUNT=1)
    faces = sorted(PHOTOS.glob("*.jpg"))[:6]
    args = ["users", "add", "kevin", "--display-name", "Kevin"] + [a for p in faces for a in ("--face", str(p))]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output

    with LiveServer(app) as server:
        page = browser_for(kevin_camera).new_page()
        served: list[str] = []  # every prompt the server sent, however briefly the page showed it
        page.on("response", lambda r: served.append(r.json().get("prompt", "")) if r.url.endswith("/frames") and r.ok else None)
        page.goto(f"{server.url}/login")
        page.fill("#username", "kevin")
        page.click("#start")
        prompts: list[str] = []
        for _ in range(160):
            text, state, path = page_status(page)
            if text is not None and (not prompts or prompts[-1] != text):
                prompts.append(text)
            if state in ("granted", "denied") or path == "/account":
                break
            page.wait_for_timeout(200)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "browser-blink-step.png"), full_page=True)
        final_url = page.url

    from webapp.db.extensions import db
    from webapp.db.models import LoginAttempt

    with app.app_context():
        attempt = db.session.scalar(sa.select(LoginAttempt))
        assert attempt is not None
        steps_done = [s["step"] for s in attempt.progress["steps_done"]]
        summary = (attempt.state, attempt.reason, attempt.detail, attempt.scores, attempt.challenge, attempt.progress)
    assert "Blink a few times." in served, (summary[:3], served, prompts)
    assert steps_done == ["blink"], (summary, prompts)
    state, reason, scores = summary[0], summary[1] or "", summary[3]
    print(f"blink browser test: final decision {state} {reason} after {scores['face_frames']} face frames; scores {scores}")
    # The person followed the prompt, is the enrolled user and is live: they get in. (The shipped
    # passive models were trained on every shared set, this clip's source included, so this
    # shows the whole path works for a real user, not how the models generalise.)
    assert summary[0] == "granted", summary[:4]
    assert final_url.endswith("/account"), final_url

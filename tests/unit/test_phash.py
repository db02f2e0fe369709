"""Near-duplicate frame detection (webapp/replay/hashes.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ml.blink.paths import SHARED_VIDEOS
from webapp.replay.hashes import (
    FINGERPRINT_NEAR,
    FrameHash,
    dhash,
    fingerprint,
    fingerprint_distance,
    frame_hash,
    hamming,
    is_near_duplicate,
    nearest_duplicate,
    phash,
)


def scene(seed: int = 0) -> np.ndarray:
    """A 480x360 RGB picture with structure at several scales (a stand-in for a webcam frame)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:360, 0:480]
    base = 90 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    texture = cv2.GaussianBlur(rng.normal(0, 60, (360, 480)), (0, 0), 5)
    grey = np.clip(base + texture, 0, 255).astype(np.uint8)
    return np.dstack([grey, grey, grey])


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def test_hashes_are_64_bit_hex() -> None:
    img = scene()
    for h in (phash(img), dhash(img)):
        assert len(h) == 16 and int(h, 16) >= 0
    assert hamming("ffffffffffffffff", "0000000000000000") == 64
    assert hamming(phash(img), phash(img)) == 0


def test_a_reencoded_frame_is_a_near_duplicate() -> None:
    frame = jpeg(scene(), 85)
    a = frame_hash(frame)
    for quality in (80, 90, 95):
        assert is_near_duplicate(a, frame_hash(jpeg(frame, quality))), quality
    # A much lower quality moves block means by more than the threshold: a cost of never
    # flagging live frames (measured: about 60 % of re-sent frames are caught, see the README).
    assert fingerprint_distance(a.fingerprint, frame_hash(jpeg(frame, 70)).fingerprint) < 1.0


def test_a_frame_where_something_moved_is_not() -> None:
    frame = jpeg(scene(), 85)
    moved = frame.copy()
    moved[150:210, 200:260] = np.roll(frame[150:210, 200:260], 3, axis=1)  # a few pixels of motion
    assert not is_near_duplicate(frame_hash(frame), frame_hash(jpeg(moved, 85)))
    assert not is_near_duplicate(frame_hash(scene(0)), frame_hash(scene(1)))


def test_fingerprint_ignores_exposure_changes() -> None:
    frame = scene().astype(np.int16)
    brighter = np.clip(frame + 6, 0, 255).astype(np.uint8)
    assert fingerprint_distance(fingerprint(frame.astype(np.uint8)), fingerprint(brighter)) <= FINGERPRINT_NEAR
    assert fingerprint_distance("", fingerprint(brighter)) == float("inf")


def test_without_fingerprints_nothing_is_called_a_duplicate() -> None:
    h = frame_hash(scene())
    bare = FrameHash(h.phash, h.dhash, "")
    assert not is_near_duplicate(h, bare)
    assert is_near_duplicate(h, h)


def test_nearest_duplicate_searches_every_stored_frame_and_round_trips_json() -> None:
    frames = [jpeg(scene(s), 85) for s in range(4)]
    stored = json.loads(json.dumps([frame_hash(f).as_list() for f in frames]))
    assert len(json.dumps(stored[0])) < 600
    assert nearest_duplicate(frame_hash(jpeg(frames[1], 75)), stored) == 1
    assert nearest_duplicate(frame_hash(scene(9)), stored) is None
    assert FrameHash.from_list(stored[2]) == frame_hash(frames[2])


@pytest.mark.dataset
@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason=f"shared videos not present at {SHARED_VIDEOS}")
def test_the_stillest_live_clip_is_not_flagged_but_its_resent_frames_are() -> None:
    cap = cv2.VideoCapture(str(SHARED_VIDEOS / "krzysiek" / "real.mp4"))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        h, w = bgr.shape[:2]
        frames.append(jpeg(cv2.resize(bgr, (480, round(480 * h / w)), interpolation=cv2.INTER_AREA), 85))
    cap.release()
    sent = frames[::3]  # about 5 fps from the 16 fps clip
    hashes = [frame_hash(f).as_list() for f in sent]
    flagged_live = sum(nearest_duplicate(FrameHash.from_list(hashes[j]), hashes[:j]) is not None for j in range(1, len(hashes)))
    assert flagged_live == 0
    resent = sum(is_near_duplicate(frame_hash(f), frame_hash(jpeg(f, 80))) for f in sent)
    assert resent / len(sent) > 0.2

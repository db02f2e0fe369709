"""Planarity on optical flow: research code beside the landmark cue the service uses.

The service judges planar motion from landmarks alone (webapp/challenge/motion.py), because the
attempt state keeps no pixels between frames. This variant fits a homography to corners tracked
by pyramidal Lucas-Kanade (Bouguet, 2000) on the face texture; it needs both frames' pixels, so
it lives with the cue studies (``ml.blink.cues`` compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FlowFit:
    """Homography fit to tracked corners inside the face box between two frames."""

    points: int  # corners tracked successfully
    motion: float  # median corner displacement / face width
    residual: float  # median homography residual / face width
    inlier_share: float  # share of corners within 1 % of face width of the RANSAC homography


def flow_planarity(prev_grey: np.ndarray, cur_grey: np.ndarray, box: tuple[int, int, int, int], max_corners: int = 100) -> FlowFit:
    """Track Shi-Tomasi corners of the face box with pyramidal LK and fit a homography (RANSAC).

    ``box`` is (left, top, right, bottom) in the previous frame; both images are grey uint8 of
    the same size.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = prev_grey.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    width = float(max(1, x1 - x0))
    mask = np.zeros_like(prev_grey)
    mask[y0:y1, x0:x1] = 255
    corners = cv2.goodFeaturesToTrack(prev_grey, max_corners, 0.01, max(3.0, width / 30.0), mask=mask)
    if corners is None or len(corners) < 8:
        return FlowFit(0 if corners is None else len(corners), 0.0, 0.0, 1.0)
    nxt, status, _err = cv2.calcOpticalFlowPyrLK(prev_grey, cur_grey, corners, np.zeros_like(corners), winSize=(15, 15), maxLevel=3)
    ok = status.ravel() == 1
    src, dst = corners.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok]
    if len(src) < 8:
        return FlowFit(len(src), 0.0, 0.0, 1.0)
    motion = float(np.median(np.linalg.norm(dst - src, axis=1)) / width)
    hmat, _ = cv2.findHomography(src, dst, cv2.RANSAC, 0.01 * width)
    if hmat is None:
        return FlowFit(len(src), motion, float("inf"), 0.0)
    proj = cv2.perspectiveTransform(src.reshape(-1, 1, 2).astype(np.float64), hmat).reshape(-1, 2)
    res = np.linalg.norm(proj - dst, axis=1) / width
    return FlowFit(len(src), motion, float(np.median(res)), float(np.mean(res <= 0.01)))

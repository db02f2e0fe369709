"""Synthetic heads and photos: 68 landmarks of a rough 3-D face, or of the same face printed
flat, projected by a pinhole camera at any pose. Tests of the motion cues and of the policy use
them to produce a real head's turn and a tilted photo's "turn" without images."""

from __future__ import annotations

import math

import cv2
import numpy as np

from webapp.challenge.geometry import MODEL_3D, POSE_POINTS, rotation


def face_3d() -> np.ndarray:
    """A rough 68-point head in mm (x right, y down, z away from the camera): the outline deep
    at the sides, the nose tip forward. Only the relief matters: it makes a turn non-planar."""
    pts = np.zeros((68, 3))
    theta = np.linspace(0.0, math.pi, 17)  # outline: ear, chin, other ear
    pts[0:17] = np.column_stack([-70 * np.cos(theta), -20 + 100 * np.sin(theta), 20 + 40 * np.abs(np.cos(theta))])
    brows_x = np.r_[np.linspace(-55, -15, 5), np.linspace(15, 55, 5)]
    pts[17:27] = np.column_stack([brows_x, np.full(10, -45.0), np.full(10, 15.0)])
    pts[27:31] = np.column_stack([np.zeros(4), np.linspace(-35, 0, 4), np.linspace(10, -20, 4)])  # bridge to tip
    pts[31:36] = np.column_stack([np.linspace(-15, 15, 5), np.full(5, 8.0), np.array([0, -5, -10, -5, 0.0])])
    ring6 = np.linspace(math.pi, -math.pi, 7)[:6]
    for start, cx in ((36, -35.0), (42, 35.0)):
        pts[start : start + 6] = np.column_stack([cx + 14 * np.cos(ring6), -25 + 5 * np.sin(ring6), np.full(6, 18.0)])
    ring12 = np.linspace(math.pi, -math.pi, 13)[:12]
    pts[48:60] = np.column_stack([25 * np.cos(ring12), 40 + 8 * np.sin(ring12), np.full(12, 5.0)])
    ring8 = np.linspace(math.pi, -math.pi, 9)[:8]
    pts[60:68] = np.column_stack([15 * np.cos(ring8), 40 + 3 * np.sin(ring8), np.full(8, 5.0)])
    return pts


def project(
    points: np.ndarray,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    shift: tuple[float, float] = (0, 0),
    distance: float = 600.0,
) -> np.ndarray:
    """Pinhole projection (f = 640 px, 640x480 image) of points rotated about their centre."""
    cam = points @ rotation(yaw, pitch, roll).T + np.array([0.0, 0.0, distance])
    return np.column_stack([640 * cam[:, 0] / cam[:, 2] + 320 + shift[0], 640 * cam[:, 1] / cam[:, 2] + 240 + shift[1]])


HEAD = face_3d()
PHOTO = np.column_stack([HEAD[:, :2], np.zeros(68)])  # the same face printed flat


def project_model(yaw: float, pitch: float = 0.0, size: tuple[int, int] = (480, 640), scale: float = 0.3) -> np.ndarray:
    """Landmarks (68x2) of the generic head turned by ``yaw``/``pitch`` degrees (same signs as
    :class:`HeadPose`). Only the six pose points are meaningful; tests and tools use this to
    produce known poses without photos."""
    height, width = size
    focal = float(width)
    camera = np.array([[focal, 0, width / 2.0], [0, focal, height / 2.0], [0, 0, 1]], dtype=np.float64)
    rvec, _ = cv2.Rodrigues(rotation(-yaw, -pitch))
    tvec = np.array([0.0, 0.0, focal / scale], dtype=np.float64)
    projected, _ = cv2.projectPoints(MODEL_3D, rvec, tvec, camera, np.zeros(4))
    out = np.zeros((68, 2), dtype=np.float32)
    out[:, 0], out[:, 1] = width / 2.0, height / 2.0
    out[POSE_POINTS] = projected.reshape(-1, 2)
    return out

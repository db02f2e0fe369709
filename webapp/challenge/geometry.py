"""Landmark geometry for active liveness: eye opening and head pose.

Inputs are dlib's 68 landmarks (iBUG 300-W numbering) in image pixel coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from webapp.face.types import Box

# iBUG 68-point indices. "Image-left" is the subject's right side (the camera faces them).
RIGHT_EYE = slice(36, 42)  # subject's right eye, image left
LEFT_EYE = slice(42, 48)  # subject's left eye, image right
POSE_POINTS = [30, 8, 36, 45, 48, 54]  # nose tip, chin, outer eye corners, mouth corners

# A generic head in camera-style axes (x right, y down, z away from the camera), in mm,
# adapted from the common 6-point head-pose model (nose tip at the origin). Only the shape
# matters: solvePnP finds the rotation that best projects it onto the detected landmarks.
MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),  # nose tip
        (0.0, 330.0, 65.0),  # chin
        (-225.0, -170.0, 135.0),  # image-left eye outer corner
        (225.0, -170.0, 135.0),  # image-right eye outer corner
        (-150.0, 150.0, 125.0),  # image-left mouth corner
        (150.0, 150.0, 125.0),  # image-right mouth corner
    ],
    dtype=np.float64,
)


def eye_aspect_ratio(landmarks: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (Soukupova & Cech, 2016).

    EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|): about 0.25-0.35 for an open eye, falling towards
    0.1 when it closes. It is scale-invariant, so distance to the camera does not matter.
    """

    def one(eye: np.ndarray) -> float:
        vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
        horizontal = 2.0 * np.linalg.norm(eye[0] - eye[3])
        return float(vertical / horizontal) if horizontal > 0 else 0.0

    return (one(landmarks[RIGHT_EYE]) + one(landmarks[LEFT_EYE])) / 2.0


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees. ``yaw`` > 0: the subject turned to THEIR left (the nose moves
    towards the right of the unmirrored camera image); ``pitch`` > 0: looking up."""

    yaw: float
    pitch: float
    roll: float


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> HeadPose:
    """Estimate head rotation with solvePnP against a generic 3D face.

    The camera is approximated as a pinhole with focal length = image width and the principal
    point at the centre; errors of a few degrees do not matter for "turned / not turned".
    """
    height, width = image_size
    focal = float(width)
    camera = np.array([[focal, 0, width / 2.0], [0, focal, height / 2.0], [0, 0, 1]], dtype=np.float64)
    image_points = landmarks[POSE_POINTS].astype(np.float64)
    ok, rvec, _tvec = cv2.solvePnP(MODEL_3D, image_points, camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return HeadPose(0.0, 0.0, 0.0)
    rot, _ = cv2.Rodrigues(rvec)
    # Euler angles of R = Rz(roll) @ Ry(yaw) @ Rx(pitch) in camera axes (y down, z forward).
    yaw_cam = math.degrees(math.asin(max(-1.0, min(1.0, -rot[2, 0]))))
    pitch_cam = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    # With y pointing down, a rotation that moves the nose to image-right has negative
    # yaw_cam: flip so that positive means "turned to the subject's left".
    return HeadPose(yaw=-yaw_cam, pitch=-pitch_cam, roll=roll)


def rotation(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """Rotation matrix Rz(roll) @ Ry(yaw) @ Rx(pitch), angles in degrees, camera axes (x right,
    y down, z forward). The one convention the pose estimate, the head and photo simulations
    of ml/blink and the tests share."""
    y, p = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    if roll == 0.0:
        return ry @ rx
    r = math.radians(roll)
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


# --- face size, hysteresis and track continuity (issue 4, part 2) ---------------------------


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left (subject's right) and image-right eye contours."""
    return landmarks[RIGHT_EYE].mean(axis=0), landmarks[LEFT_EYE].mean(axis=0)


def inter_ocular_distance(landmarks: np.ndarray) -> float:
    """Distance between the two eye centres in pixels: the face's scale.

    Landmark-based, so it changes smoothly with distance to the camera, unlike dlib's HOG
    boxes, whose size moves in pyramid steps of about 20 % (pyramid_down<6>). It shrinks with
    yaw (foreshortening, about cos(yaw)); compare it only between near-frontal frames.
    """
    a, b = eye_centres(landmarks)
    return float(np.linalg.norm(b - a))


def scale_ratio(current: float, baseline: float) -> float:
    """How much bigger the face is than at baseline (1.0 = same size; >1 = closer)."""
    return current / baseline if baseline > 0 else 0.0


def hysteresis(value: float, on: float, off: float, was_on: bool) -> bool:
    """Two-threshold switch: turns on at ``value >= on``, stays on until ``value < off``.

    With ``off < on`` a value wandering around one threshold (landmark jitter, HOG box steps)
    cannot toggle the state every frame. For "low is on" signals pass negated values.
    """
    if off > on:
        raise ValueError("hysteresis needs off <= on")
    return value >= off if was_on else value >= on


@dataclass(frozen=True)
class TrackCheck:
    """How the face moved between two consecutive face frames, relative to its size."""

    shift: float  # centre displacement / mean inter-ocular distance
    scale_change: float  # |log(iod_now / iod_before)|
    iou: float  # overlap of the two face boxes
    same: bool


def same_face_track(
    prev_landmarks: np.ndarray,
    cur_landmarks: np.ndarray,
    dt: float,
    prev_box: tuple[int, int, int, int] | None = None,
    cur_box: tuple[int, int, int, int] | None = None,
    max_speed: float = 4.0,
    max_shift: float = 1.5,
    max_scale_speed: float = 2.0,
) -> TrackCheck:
    """Is the face in this frame plausibly the same physical face as in the previous one?

    A real head moves continuously: between frames ``dt`` seconds apart its landmark centre
    moves at most about ``max_speed`` inter-ocular distances per second (capped at
    ``max_shift``), and its scale (inter-ocular distance, which also shrinks as the head turns)
    changes by at most ``max_scale_speed`` in log units per second.
    A face that jumps further was swapped (another photo, another person, a cut in a replay),
    so a step must not be completed across that jump. Defaults are calibrated on the live videos
    at 4-10 fps (``python -m ml.blink.cues track``; see ml/blink/README.md).
    """
    c0, c1 = prev_landmarks.mean(axis=0), cur_landmarks.mean(axis=0)
    iod0, iod1 = inter_ocular_distance(prev_landmarks), inter_ocular_distance(cur_landmarks)
    iod = max(1e-6, (iod0 + iod1) / 2.0)
    shift = float(np.linalg.norm(c1 - c0) / iod)
    scale_change = float(abs(math.log(max(iod1, 1e-6) / max(iod0, 1e-6))))
    iou = Box.from_list(list(prev_box)).iou(Box.from_list(list(cur_box))) if prev_box is not None and cur_box is not None else float("nan")
    gap = max(0.0, float(dt))
    same = shift <= min(max_shift, max_speed * gap + 0.25) and scale_change <= max_scale_speed * gap + 0.15
    return TrackCheck(shift=shift, scale_change=scale_change, iou=iou, same=same)

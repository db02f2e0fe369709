"""Plain value types shared by the face library, the liveness models and the ml package."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """A face rectangle in pixel coordinates of the original image (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def iou(self, other: Box) -> float:
        """Intersection over union: how much two detections overlap (1 = same box)."""
        ix = max(0, min(self.right, other.right) - max(self.left, other.left))
        iy = max(0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]

    @classmethod
    def from_list(cls, values: list[int]) -> Box:
        left, top, right, bottom = (int(v) for v in values)
        return cls(left, top, right, bottom)


@dataclass(frozen=True)
class Quality:
    """Capture quality of one face: why an enrollment photo or a frame is not good enough."""

    face_px: int  # shorter side of the detected face box, in original pixels
    sharpness: float  # variance of the Laplacian on a fixed-size grey crop (higher = sharper)
    brightness: float  # mean grey level of the face crop, 0..255

    def problems(self, min_face_px: int, min_sharpness: float, brightness_range: tuple[float, float]) -> list[str]:
        """Human-readable reasons this face is below the given bars (empty list = good)."""
        out: list[str] = []
        if self.face_px < min_face_px:
            out.append(f"face too small ({self.face_px} px, need {min_face_px})")
        if self.sharpness < min_sharpness:
            out.append(f"too blurry (sharpness {self.sharpness:.0f}, need {min_sharpness:.0f})")
        low, high = brightness_range
        if not low <= self.brightness <= high:
            out.append(f"badly lit (brightness {self.brightness:.0f}, need {low:.0f}-{high:.0f})")
        return out

    def score(self) -> float:
        """A single 0..1 figure for sorting and display; the bars above decide acceptance."""
        size = min(1.0, self.face_px / 200.0)
        sharp = min(1.0, self.sharpness / 300.0)
        light = 1.0 - min(1.0, abs(self.brightness - 128.0) / 128.0)
        return round((size + sharp + light) / 3.0, 4)


@dataclass(frozen=True)
class FaceObservation:
    """Everything the pipeline learns about one face in one image."""

    box: Box
    landmarks: np.ndarray  # (68, 2) float32, original pixel coordinates
    quality: Quality
    encoding: np.ndarray | None = None  # (128,) float64, dlib face descriptor

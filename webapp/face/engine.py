"""Face detection, landmarks and encodings with the dlib models that face_recognition ships.

We call dlib directly with face_recognition's own model files (``face_recognition_models``)
instead of going through ``face_recognition``'s convenience API, because that API detects and
predicts landmarks again on every call. The 68-point shape feeds the landmark-based liveness
cues; the descriptor is computed as ``face_recognition.face_encodings`` does by default
(5-point alignment, one jitter). With FACE_ENCODER=dlib it is dlib's own computation, so
encodings are bit-identical to the library's (a test checks this). With FACE_ENCODER=onnx
(the default) dlib still cuts the aligned 150 px chip and the same ResNet runs in onnxruntime
(webapp/face/encoder.py): descriptors are within the encoder card's parity bound (1e-3, measured
far below it) of dlib's, so templates enrolled with either encoder match the same (tests check
this too). Other jitter counts always use dlib.

Models are loaded on first use, once per process (shared by every engine of the process),
never at import time, so importing the web app stays cheap and the gunicorn master holds no
models.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from webapp.config import DEFAULTS
from webapp.face.encoder import ENCODERS, OnnxEncoder, shared_encoder
from webapp.face.quality import measure_quality
from webapp.face.types import Box, FaceObservation


@dataclass(frozen=True)
class DetectorSettings:
    """How faces are searched for and encoded; see the FACE_* keys in webapp/config.py."""

    max_side: int = DEFAULTS["FACE_DETECT_MAX_SIDE"]  # frames are downscaled to this longest side before HOG
    min_side: int = DEFAULTS["FACE_DETECT_MIN_SIDE"]  # smaller images (tight crops) are upscaled to this first
    upsample: int = DEFAULTS["FACE_DETECT_UPSAMPLE"]  # dlib HOG pyramid upsampling; 1 finds smaller faces at 4x the cost
    min_score: float = 0.0  # HOG detection score floor (tools only: the service keeps every box)
    min_face_px: int = DEFAULTS["FACE_MIN_PX"]  # faces smaller than this (original px) are ignored entirely
    # Login frames (webapp/login/tracking.py): the cheaper searches below, on or off.
    track: bool = DEFAULTS["FACE_TRACK"]
    track_full_side: int = DEFAULTS["FACE_TRACK_FULL_SIDE"]  # longest side of the quick full pass
    track_region_pad: float = DEFAULTS["FACE_TRACK_REGION_PAD"]  # region = previous box grown by this share per side
    track_region_face_px: int = DEFAULTS["FACE_TRACK_REGION_FACE_PX"]  # the region is scaled so the face is this wide
    track_full_every: int = DEFAULTS["FACE_TRACK_FULL_EVERY"]  # a full pass at least every N frames
    # Who runs the identity ResNet: "onnx" (onnxruntime, webapp/face/encoder.py) or "dlib".
    encoder: str = DEFAULTS["FACE_ENCODER"]

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")


_Models = tuple[object, object, object]
# dlib's detector and predictors are not re-entrant; every call into them holds this lock.
_DLIB_LOCK = threading.Lock()


@cache
def _load_models() -> _Models:
    # Imported here: dlib and face_recognition_models are heavy, and importing
    # face_recognition_models needs pkg_resources (setuptools < 82; see requirements.txt).
    import dlib
    import face_recognition_models as frm

    detector = dlib.get_frontal_face_detector()
    predictor68 = dlib.shape_predictor(frm.pose_predictor_model_location())
    predictor5 = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    return detector, predictor68, predictor5


@cache
def _load_dlib_encoder() -> object:
    """dlib's own ResNet (22 MB in memory), loaded only where it runs: FACE_ENCODER=dlib, or a
    jitter count the ONNX port does not do. With the ONNX encoder no process holds it."""
    import dlib
    import face_recognition_models as frm

    return dlib.face_recognition_model_v1(frm.face_recognition_model_location())


class FaceEngine:
    """Detection settings plus thread-safe access to the process's dlib models."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()

    def load(self) -> None:
        """Load the dlib models now (the gunicorn master, health checks and workers do)."""
        with _DLIB_LOCK:
            _load_models()
            if self.settings.encoder == "dlib":
                _load_dlib_encoder()

    def load_encoder(self) -> str:
        """Open the ONNX encoder now when it is selected (workers only: never before the fork);
        which encoder runs, for /healthz. A card or file that fails its check raises CardError."""
        if self.settings.encoder == "dlib":
            return "dlib"
        card = self._onnx().card
        return f"{card.name} ({card.sha256[:12]})"

    def _onnx(self) -> OnnxEncoder:
        return shared_encoder()

    # -- detection -------------------------------------------------------------------------

    def _hog(self, img: np.ndarray) -> list[tuple[Box, float]]:
        detector = _load_models()[0]
        rects, scores, _ = detector.run(img, self.settings.upsample, 0.0)  # type: ignore[attr-defined]
        return [
            (Box(r.left(), r.top(), r.right(), r.bottom()), float(s))
            for r, s in zip(rects, scores, strict=True)
            if s >= self.settings.min_score
        ]

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """All faces in ``rgb`` (original coordinates), largest first.

        The search runs on a copy resized to a fixed range of sizes (fast on big frames, able
        to see faces in small crops). When nothing is found, it retries once on a copy padded
        by edge replication: HOG misses faces that touch the image border, which is how tight
        face crops (uploaded photos, dataset crops) look. Enrollment stills and the tools use
        this; login frames start with the cheaper searches below.
        """
        return self._search(rgb, self.settings.max_side)

    def detect_quick(self, rgb: np.ndarray) -> list[Box]:
        """:meth:`detect` on a smaller copy (``track_full_side``, 320 px): a third of the pixels
        of the 480 px search, for login frames. Faces under about a quarter of the frame's
        longest side are too small for HOG's 80 px window there; the login analysis falls back
        to :meth:`detect` when the context detector sees a face this pass did not find."""
        return self._search(rgb, self.settings.track_full_side)

    def detect_region(self, rgb: np.ndarray, around: Box) -> list[Box]:
        """Faces in a region around ``around`` (the previous frame's face), original coordinates.

        The region is the box grown by ``track_region_pad`` of its size on every side, taken
        from a grey copy (one channel: a third of HOG's gradient work) and scaled so the face is
        about ``track_region_face_px`` wide, a little over HOG's 80 px window, so a face that
        shrank a little is still found. Parts of the region outside the frame are filled by edge
        replication, which also lets HOG see a face touching the border (the pad-and-retry
        trick of :meth:`detect`, for free). Only this region is searched: the caller decides
        when that is enough (webapp/login/tracking.py).
        """
        s = self.settings
        size = max(around.width, around.height, 1)
        half = size * (0.5 + s.track_region_pad)
        cx, cy = around.center
        x0, y0, x1, y1 = round(cx - half), round(cy - half), round(cx + half), round(cy + half)
        h, w = rgb.shape[:2]
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            return []
        crop = rgb[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
        # A face under HOG's window is scaled up, as upsampling would (a region is small enough
        # for that to stay cheap), so a far face keeps its track.
        scale = s.track_region_face_px / size
        if scale != 1.0:
            crop = cv2.resize(
                crop,
                (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            )
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        # Pad (in scaled pixels) where the region leaves the frame.
        pad_top, pad_bottom, pad_left, pad_right = (round(max(0, v) * scale) for v in (-y0, y1 - h, -x0, x1 - w))
        if pad_top or pad_bottom or pad_left or pad_right:
            grey = cv2.copyMakeBorder(grey, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
        left, top = max(0, x0) - pad_left / scale, max(0, y0) - pad_top / scale
        with _DLIB_LOCK:
            found = self._hog(grey)
        boxes = [
            Box(round(b.left / scale + left), round(b.top / scale + top), round(b.right / scale + left), round(b.bottom / scale + top))
            for b, _score in found
        ]
        return self._keep(boxes)

    def _search(self, rgb: np.ndarray, max_side: int) -> list[Box]:
        s = self.settings
        h, w = rgb.shape[:2]
        longest = max(h, w)
        scale = min(1.0, max_side / longest)
        if longest * scale < s.min_side:
            scale = s.min_side / longest
        small = (
            rgb
            if scale == 1.0
            else cv2.resize(
                rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            )
        )
        with _DLIB_LOCK:
            found = self._hog(small)
            offset = 0
            if not found:
                offset = max(small.shape[:2]) // 4
                padded = cv2.copyMakeBorder(small, offset, offset, offset, offset, cv2.BORDER_REPLICATE)
                found = self._hog(padded)
        boxes = [
            Box(
                round((box.left - offset) / scale),
                round((box.top - offset) / scale),
                round((box.right - offset) / scale),
                round((box.bottom - offset) / scale),
            )
            for box, _score in found
        ]
        return self._keep(boxes)

    def _keep(self, boxes: list[Box]) -> list[Box]:
        """Faces big enough to count, largest first."""
        kept = [b for b in boxes if min(b.width, b.height) >= self.settings.min_face_px]
        kept.sort(key=lambda b: b.area, reverse=True)
        return kept

    # -- landmarks and encodings -----------------------------------------------------------

    def _shape(self, rgb: np.ndarray, box: Box, points: int) -> object:
        import dlib

        predictor = _load_models()[1 if points == 68 else 2]
        return predictor(rgb, dlib.rectangle(box.left, box.top, box.right, box.bottom))  # type: ignore[operator]

    def observe(self, rgb: np.ndarray, box: Box, encode: bool = True, num_jitters: int = 1) -> FaceObservation:
        """Landmarks, quality and (optionally) the identity encoding of the face in ``box``."""
        onnx = encode and num_jitters == 1 and self.settings.encoder == "onnx"
        encoder = self._onnx() if onnx else None  # loaded before taking the dlib lock
        chip = None
        with _DLIB_LOCK:
            shape = self._shape(rgb, box, 68)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)  # type: ignore[attr-defined]
            encoding = None
            if encode:
                chip_shape = self._shape(rgb, box, 5)
                if encoder is not None:
                    import dlib

                    chip = dlib.get_face_chip(rgb, chip_shape, encoder.card.chip_size, encoder.card.chip_padding)  # type: ignore[attr-defined]
                else:
                    dlib_encoder = _load_dlib_encoder()
                    encoding = np.array(dlib_encoder.compute_face_descriptor(rgb, chip_shape, num_jitters), dtype=np.float64)  # type: ignore[attr-defined]
        if encoder is not None and chip is not None:
            encoding = encoder.encode(chip)  # outside the dlib lock: onnxruntime is thread-safe
        return FaceObservation(box=box, landmarks=points, quality=measure_quality(rgb, box), encoding=encoding)

"""The Silent-Face face detector on the training side: the service's own detector
(``webapp.face.retinaface``), so the boxes studied and trained on are the ones served.

The detector is a Caffe RetinaFace (mobilenet backbone), served as its ONNX port in onnxruntime
(``python -m ml.detector export``; ``ml.detector.reference`` still runs the Caffe files in cv2.dnn).

MiniFASNet was trained on crops around *this* detector's boxes (its crops are 2.7x and 4x the
box, so box size and centre decide the framing), and the anchor figures use it too. Its input
convention is the repo's (``src/anti_spoof_predict.py``, ``Detection.get_bbox``): frames of more
than 192x192 pixels are resized to about 192x192 pixels of area keeping their aspect ratio, the
blob is BGR minus mean (104, 117, 123) without scaling, and ``detection_out`` rows are
``(image, label, confidence, x1, y1, x2, y2)`` with coordinates normalised to the frame.

The repo takes the most confident row whatever its confidence. We keep a floor
(:data:`DEFAULT_MIN_CONFIDENCE` = 0.6, the repo's own ``detector_confidence`` attribute, which
its code defines but never applies) so that a frame without a face is a "no face" rejection
rather than a crop of wallpaper: the anchor counts no-face as rejected, which needs one.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from ml.paths import REPO_ROOT
from webapp.face.retinaface import RetinaFace, ScoredBox

DETECTOR_DIR = REPO_ROOT / "webapp" / "assets" / "detector"
PROTOTXT = "deploy.prototxt"
CAFFEMODEL = "Widerface-RetinaFace.caffemodel"
INPUT_AREA_SIDE = 192  # frames are resized to about this many pixels squared (repo convention)
MEAN_BGR = (104.0, 117.0, 123.0)
DEFAULT_MIN_CONFIDENCE = 0.6

FaceBox = ScoredBox  # one detection: x1, y1, x2, y2 (original pixels), confidence


@cache
def _detector(model_dir: Path) -> RetinaFace:
    return RetinaFace.load(model_dir)


def detect_faces(
    image: np.ndarray, color_order: str = "BGR", min_confidence: float = DEFAULT_MIN_CONFIDENCE, model_dir: Path = DETECTOR_DIR
) -> list[FaceBox]:
    """Faces in a uint8 ``image`` (``color_order`` "BGR" or "RGB"), most confident first."""
    if color_order not in ("BGR", "RGB"):
        raise ValueError(f"color_order must be BGR or RGB, not {color_order!r}")
    rgb = image[..., ::-1] if color_order == "BGR" else image
    return _detector(Path(model_dir)).detect(rgb, min_confidence)

"""Face boxes and model-input crops of dataset images, made by the service's own code path.

Detection is ``webapp.face.FaceEngine().detect`` and cropping is ``webapp.face.crop_face``:
exactly what the login pipeline runs, so a model trains on the framing it will see. Both are
deterministic, so results are cached: boxes per file content (sha1) in one JSON file, crops
per (file, crop spec) in one ``.npz`` per spec, under ``.cache/ml`` (git-ignored).

Tight dataset crops are often missed by HOG (rotated faces, faces touching the border). For
*training*, a miss can fall back to a box derived from the image itself (:func:`fallback_box`),
sized like the HOG boxes found on the other tight crops, so the framing stays comparable.
For *evaluation* a miss stays a miss: the service would reject such a frame.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.paths import CACHE_DIR
from webapp.face import Box, CropSpec, FaceEngine, crop_face, read_image_file

# Where HOG puts the face in the tight crop sets when it finds one (medians over 6,400 crops
# of ../shared/datasets/pad): box side = 1.13 x the shorter image side (the SSD crops are
# narrower than a HOG box), box centre at 57 % of the height. Misses are framed the same way.
TIGHT_CROP_BOX_RATIO = 1.13
TIGHT_CROP_CENTER_Y = 0.57
# Whole frames (NUAA-style, >= this many pixels on the longer side) are never given a fallback
# box: the face is a small part of the frame and guessing its place would teach wrong framings.
WHOLE_FRAME_MIN_SIDE = 400


def file_key(path: Path) -> str:
    """Content hash of a file: caches stay valid when datasets move, and break when bytes change."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def fallback_box(shape: tuple[int, ...]) -> Box | None:
    """A centred square face box for a tight crop that HOG missed (None for whole frames)."""
    h, w = shape[:2]
    if max(h, w) >= WHOLE_FRAME_MIN_SIDE:
        return None
    side = TIGHT_CROP_BOX_RATIO * min(h, w)
    cx, cy = w / 2.0, h * TIGHT_CROP_CENTER_Y
    return Box(round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))


@dataclass(frozen=True)
class Detection:
    """The service's view of one image: its largest face box (None = no face) and image shape."""

    box: Box | None
    n_faces: int
    shape: tuple[int, int]


class DetectionCache:
    """Boxes found by the service detector, keyed by file content, persisted as JSON."""

    def __init__(self, path: Path | None = None, persist: bool = True) -> None:
        self.path = path or CACHE_DIR / "detections.json"
        self.persist = persist
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, object]] = {}
        if persist and self.path.exists():
            self._data = json.loads(self.path.read_text())
        self._dirty = False

    def get(self, key: str) -> Detection | None:
        row = self._data.get(key)
        if row is None:
            return None
        box, n, shape = row.get("box"), row["n"], row["shape"]
        assert isinstance(shape, list) and isinstance(n, int) and (box is None or isinstance(box, list))
        return Detection(Box.from_list(box) if box else None, n, (int(shape[0]), int(shape[1])))

    def put(self, key: str, det: Detection) -> None:
        with self._lock:
            self._data[key] = {"box": det.box.as_list() if det.box else None, "n": det.n_faces, "shape": list(det.shape)}
            self._dirty = True

    def save(self) -> None:
        if not self._dirty or not self.persist:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, sort_keys=True))
        tmp.replace(self.path)
        self._dirty = False


def detect_image(rgb: np.ndarray) -> Detection:
    """Run the service detector once on an RGB image."""
    boxes = FaceEngine().detect(rgb)
    return Detection(boxes[0] if boxes else None, len(boxes), (int(rgb.shape[0]), int(rgb.shape[1])))


def detect_files(
    paths: Sequence[Path], cache: DetectionCache | None = None, keys: Sequence[str] | None = None, progress: bool = False
) -> list[Detection]:
    """Detections for many files, computing only those not cached yet (``keys``: their file_key)."""
    cache = cache or DetectionCache()
    keys = keys if keys is not None else [file_key(p) for p in paths]
    out: list[Detection] = []
    for i, (path, key) in enumerate(zip(paths, keys, strict=True)):
        det = cache.get(key)
        if det is None:
            det = detect_image(read_image_file(str(path)))
            cache.put(key, det)
            if i % 500 == 0:
                cache.save()
        if progress and i % 500 == 0:
            print(f"  detect {i}/{len(paths)}", flush=True)
        out.append(det)
    cache.save()
    return out


def spec_tag(spec: CropSpec) -> str:
    return f"s{spec.size}_x{spec.scale:g}"


@dataclass
class CropSet:
    """Model-input crops of a list of files: ``crops[i]`` belongs to ``paths[i]`` when ``found[i]``."""

    crops: np.ndarray  # (N, S, S, 3) uint8 RGB; zeros where no face
    found: np.ndarray  # (N,) bool: the service detector found a face
    fallback: np.ndarray  # (N,) bool: no face found, crop made from fallback_box()


class CropCache:
    """Crops per (file content, crop spec) in ``.cache/ml/crops/<spec>.npz``."""

    def __init__(self, spec: CropSpec, root: Path | None = None) -> None:
        self.spec = spec
        self.path = (root or CACHE_DIR / "crops") / f"{spec_tag(spec)}.npz"
        self._crops: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as z:
                self._crops = dict(zip(z["keys"].tolist(), z["crops"], strict=True))
        self._dirty = False

    def get(self, key: str) -> np.ndarray | None:
        return self._crops.get(key)

    def put(self, key: str, crop: np.ndarray) -> None:
        self._crops[key] = crop
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(sorted(self._crops))
        crops = np.stack([self._crops[k] for k in keys]) if len(keys) else np.zeros((0, self.spec.size, self.spec.size, 3), np.uint8)
        tmp = self.path.with_name(self.path.stem + ".tmp.npz")
        np.savez(tmp, keys=keys, crops=crops)
        tmp.replace(self.path)
        self._dirty = False


def crop_files(
    paths: Sequence[Path],
    spec: CropSpec,
    use_fallback: bool = True,
    detections: DetectionCache | None = None,
    progress: bool = False,
) -> CropSet:
    """Service-path crops of ``paths`` at ``spec`` (fallback boxes for missed tight crops if asked)."""
    det_cache = detections or DetectionCache()
    crop_cache = CropCache(spec)
    n = len(paths)
    crops = np.zeros((n, spec.size, spec.size, 3), np.uint8)
    found = np.zeros(n, bool)
    fallback = np.zeros(n, bool)
    keys = [file_key(p) for p in paths]
    dets = detect_files(paths, det_cache, keys=keys, progress=progress)
    for i, (path, det, fkey) in enumerate(zip(paths, dets, keys, strict=True)):
        box = det.box
        if box is None and use_fallback:
            box = fallback_box(det.shape)
            fallback[i] = box is not None
        if box is None:
            continue
        key = f"{fkey}:{'fb' if fallback[i] else 'hog'}"
        crop = crop_cache.get(key)
        if crop is None:
            crop = crop_face(read_image_file(str(path)), box, spec)
            crop_cache.put(key, crop)
        crops[i] = crop
        found[i] = det.box is not None
    crop_cache.save()
    return CropSet(crops=crops, found=found, fallback=fallback)

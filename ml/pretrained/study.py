"""Measurements of the frozen Silent-Face pipeline on the shared data (detector, per image, per attempt).

``detect_report``: per set and class, how often the service's HOG detector
(``webapp.face.get_engine().detect``, as at login) and RetinaFace find a face, and CPU ms per
image, on the dataset images as they are and on 640x480 frames (the service's frame size).

``evaluate``: the two converted models behind RetinaFace and the Silent-Face crop, fused by
averaging their softmax live probability, accepted at >= 0.5, no face = rejected (as the anchor,
../shared/notes/pad-anchor.md, counts it). Rates come from ml/metrics.py. Also the anchor's
protocol (at most 300 images per set and class, which only changes nuaa-train), each model
alone, the repo's argmax decision, CPU ms per face, and attempt-level figures: windows of ~20
frames at ~8 fps from the shared videos, and NUAA grouped by subject + session.

Everything runs single-threaded (cv2, onnxruntime): the machine is shared, and per-image
milliseconds are only comparable at one thread. Detections and model outputs are cached per
file content under ``.cache/ml/pretrained`` (git-ignored), so a rerun with another detector
floor takes seconds.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ml.datasets.faces import file_key
from ml.datasets.layout import LIVE, Sample, scan
from ml.metrics import Presentations, bpcer_at_apcer, eer, pad_report, point_metrics
from ml.paths import CACHE_DIR
from ml.pretrained.detector import DEFAULT_MIN_CONFIDENCE, FaceBox, detect_faces
from ml.pretrained.silentface import LIVE_INDEX, NATIVE_THRESHOLD, SilentFace
from ml.strict_json import finite

STUDY_CACHE = CACHE_DIR / "pretrained"
STORE_CONFIDENCE = 0.1  # the network's own floor: every row it emits is stored, thresholds apply later
SERVICE_FRAME = (640, 480)
ANCHOR_CAP = 300  # the anchor scored at most 300 images per set and class (its n for nuaa-train)
WINDOW_FRAMES = 20
WINDOW_FPS = 8.0
MAX_VIDEO_SIDE = 640  # the browser client sends frames of at most this width (webapp/static)
VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".mkv")

# ../shared/notes/pad-anchor.md, rates in %: set -> (n live, n spoof, BPCER, APCER, ACER, EER).
ANCHOR: dict[str, tuple[int, int, float, float | None, float | None, float | None]] = {
    "aksultan": (300, 300, 55.0, 15.3, 35.2, 34.3),
    "alexcamargo": (99, 98, 39.4, 5.1, 22.2, 10.2),
    "apfol": (214, 300, 10.3, 4.3, 7.3, 6.6),
    "balveer": (25, 26, 52.0, 0.0, 26.0, 0.0),
    "diogoshiroma": (300, 288, 32.0, 27.8, 29.9, 29.9),
    "dsourav": (161, 300, 44.7, 2.3, 23.5, 21.7),
    "jomariya": (6, 6, 16.7, 50.0, 33.3, 50.0),
    "jtboing": (286, 300, 25.9, 17.7, 21.8, 21.7),
    "kraken000": (142, 138, 12.0, 83.3, 47.7, 55.0),
    "krzysiek": (140, 284, 93.6, 0.0, 46.8, 62.9),
    "manikantha": (31, 30, 100.0, 0.0, 50.0, 26.2),
    "minivision": (1, 2, 0.0, 0.0, 0.0, 0.0),
    "neonipun": (281, 300, 24.9, 18.3, 21.6, 23.1),
    "nuaa-train": (300, 300, 1.0, 0.0, 0.5, 0.7),
    "nuredinali": (271, 300, 5.2, 12.0, 8.6, 8.4),
    "saikan45": (59, 189, 0.0, 2.6, 1.3, 1.6),
    "shivamyadav": (117, 111, 53.8, 0.0, 26.9, 7.9),
    "shubhamlala": (188, 185, 64.9, 31.9, 48.4, 34.6),
    "sivakumar": (300, 280, 45.7, 4.6, 25.2, 23.3),
    "tranvanluyt": (299, 300, 59.9, 0.7, 30.3, 13.0),
    "trickyf0x": (44, 50, 0.0, 78.0, 39.0, 6.4),
    "viguardieiro": (110, 0, 0.0, None, None, None),
    "vishalkrishna": (179, 272, 100.0, 0.0, 50.0, 35.9),
    "willydev": (35, 24, 91.4, 4.2, 47.8, 28.9),
    "y45hk1r0l4": (6, 5, 0.0, 0.0, 0.0, 0.0),
    "all (pooled)": (3894, 4388, 37.5, 12.1, 24.8, 23.8),
}


def _single_thread() -> None:
    cv2.setNumThreads(1)


# -- caches -------------------------------------------------------------------------------------


class JsonCache:
    """A dict persisted as one JSON file (written atomically, every ``every`` puts and on save)."""

    def __init__(self, name: str, every: int = 500) -> None:
        self.path = STUDY_CACHE / name
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}
        self._puts = 0
        self._every = every

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value
        self._puts += 1
        if self._puts % self._every == 0:
            self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)


def _boxes_from(rows: list[list[float]], min_confidence: float) -> list[FaceBox]:
    return [FaceBox(*r) for r in rows if r[4] >= min_confidence]


# -- samples ------------------------------------------------------------------------------------


def load_samples(data: Path, limit: int = 0) -> list[Sample]:
    """The labelled images under ``data``; with ``limit``, at most that many per set and class."""
    samples = scan(data)
    return cap_samples(samples, limit) if limit else samples


def cap_samples(samples: Sequence[Sample], cap: int) -> list[Sample]:
    """At most ``cap`` images per set and class, evenly spaced over the sorted list.

    The anchor scored 300 per class of nuaa-train (of 878 / 893); how it chose them is not
    recorded, so we take an even spread over the file list, which spans all subjects.
    """
    groups: dict[tuple[str, int], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.set_name, s.label), []).append(s)
    out: list[Sample] = []
    for members in groups.values():
        if len(members) <= cap:
            out.extend(members)
        else:
            idx = np.linspace(0, len(members) - 1, cap).round().astype(int)
            out.extend(members[i] for i in idx)
    out.sort(key=lambda s: str(s.path))
    return out


def read_bgr(path: Path) -> np.ndarray:
    """Decode an image as the repo does (cv2.imread, BGR, EXIF orientation applied)."""
    img = cv2.imread(str(path))
    if img is None:
        raise ValueError(f"{path}: not a decodable image")
    return img


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values, float)
    return {"median": float(np.median(arr)), "p90": float(np.percentile(arr, 90)), "mean": float(arr.mean()), "n": int(arr.size)}


# -- detector report -----------------------------------------------------------------------------


@cache
def _service_engine() -> Any:
    """The service's detector with its default settings (one per process, as a worker holds)."""
    from webapp.face.engine import FaceEngine

    return FaceEngine()


def _hog_boxes(rgb: np.ndarray) -> int:
    return len(_service_engine().detect(rgb))


def service_frames(samples: Sequence[Sample], videos: Path | None, n_images: int = 100, n_video: int = 60) -> list[np.ndarray]:
    """640x480 BGR frames: whole-frame dataset images of that size (NUAA), plus video frames letterboxed to it."""
    frames: list[np.ndarray] = []
    whole = [s for s in samples if s.set_name == "nuaa-train"]
    for s in whole[:: max(1, len(whole) // n_images)][:n_images]:
        img = cv2.imread(str(s.path))
        if img is not None:
            frames.append(_letterbox(img, SERVICE_FRAME))
    if videos is not None and videos.is_dir():
        files = _video_files(videos)
        per = max(1, n_video // max(1, len(files)))
        for f in files:
            for _, frame in list(_sampled_frames(f, WINDOW_FPS))[:per]:
                frames.append(_letterbox(frame, SERVICE_FRAME))
    return frames


def _letterbox(bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    ih, iw = bgr.shape[:2]
    if (iw, ih) == (w, h):
        return bgr
    scale = min(w / iw, h / ih)
    small = cv2.resize(bgr, (round(iw * scale), round(ih * scale)), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.full((h, w, 3), 120, np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def detect_report(data: Path, out_json: Path, videos: Path | None = None, limit: int = 0) -> dict[str, Any]:
    """Found rates and CPU ms of HOG (the service's engine) vs RetinaFace, per set and class."""
    _single_thread()
    samples = load_samples(data, limit)
    rf_cache = JsonCache("retinaface.json")
    thresholds = (0.3, 0.5, DEFAULT_MIN_CONFIDENCE, 0.8, 0.9)
    per: dict[str, dict[str, dict[str, Any]]] = {}
    rows: list[tuple[str, str, int, list[float], float, float, tuple[int, int]]] = []
    for i, s in enumerate(samples):
        bgr = cv2.imread(str(s.path))
        if bgr is None:
            continue
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        t = time.perf_counter()
        n_hog = _hog_boxes(rgb)
        hog_ms = _ms(t)
        t = time.perf_counter()
        faces = detect_faces(bgr, "BGR", min_confidence=STORE_CONFIDENCE)
        rf_ms = _ms(t)
        key = file_key(s.path)
        rf_cache.put(key, {"shape": list(bgr.shape[:2]), "boxes": [f.as_list() for f in faces[:5]]})
        top = [f.confidence for f in faces[:1]]
        rows.append((s.set_name, "live" if s.label == LIVE else "spoof", n_hog, top, hog_ms, rf_ms, bgr.shape[:2]))
        if i % 500 == 0:
            print(f"  detect {i}/{len(samples)}", flush=True)
    rf_cache.save()

    def block(sel: list[tuple[str, str, int, list[float], float, float, tuple[int, int]]]) -> dict[str, Any]:
        n = len(sel)
        return {
            "n": n,
            "hog_found": sum(r[2] > 0 for r in sel) / n if n else None,
            "retinaface_found": sum(bool(r[3]) and r[3][0] >= DEFAULT_MIN_CONFIDENCE for r in sel) / n if n else None,
            "retinaface_found_at": {f"{t:g}": (sum(bool(r[3]) and r[3][0] >= t for r in sel) / n if n else None) for t in thresholds},
            "hog_ms": _summary([r[4] for r in sel]),
            "retinaface_ms": _summary([r[5] for r in sel]),
            "median_image_px": [int(statistics.median(r[6][1] for r in sel)), int(statistics.median(r[6][0] for r in sel))] if n else None,
        }

    for set_name in sorted({r[0] for r in rows}):
        per[set_name] = {cls: block([r for r in rows if r[0] == set_name and r[1] == cls]) for cls in ("live", "spoof")}
    pooled = {cls: block([r for r in rows if r[1] == cls]) for cls in ("live", "spoof")}

    frames = service_frames(samples, videos)
    frame_hog: list[float] = []
    frame_rf: list[float] = []
    found_hog = found_rf = 0
    for f in frames:
        rgb = np.ascontiguousarray(f[..., ::-1])
        t = time.perf_counter()
        found_hog += _hog_boxes(rgb) > 0
        frame_hog.append(_ms(t))
        t = time.perf_counter()
        found_rf += bool(detect_faces(f, "BGR"))
        frame_rf.append(_ms(t))
    doc = {
        "kind": "detect-report",
        "data": str(data),
        "n_images": len(rows),
        "retinaface_min_confidence": DEFAULT_MIN_CONFIDENCE,
        "hog": "webapp.face.engine.FaceEngine().detect, the service's default DetectorSettings (max side 480, min side 200, no upsampling)",
        "threads": "1 (cv2.setNumThreads(1); dlib HOG is single-threaded); ms = wall time of the detector call, decode excluded",
        "per_set": per,
        "pooled": pooled,
        "service_frames": {
            "size": list(SERVICE_FRAME),
            "n": len(frames),
            "what": "nuaa-train frames (640x480 already) and shared-video frames letterboxed to 640x480",
            "hog_found": found_hog / len(frames) if frames else None,
            "retinaface_found": found_rf / len(frames) if frames else None,
            "hog_ms": _summary(frame_hog),
            "retinaface_ms": _summary(frame_rf),
        },
    }
    _write(out_json, doc)
    print_detect_report(doc)
    return doc


def print_detect_report(doc: dict[str, Any]) -> None:
    print(f"{'set':14s} {'class':5s} {'n':>4s} {'HOG':>6s} {'RF':>6s} {'HOG ms':>7s} {'RF ms':>6s}")
    for name, per in [*doc["per_set"].items(), ("all", doc["pooled"])]:
        for cls, b in per.items():
            if not b["n"]:
                continue
            print(
                f"{name:14s} {cls:5s} {b['n']:4d} {100 * b['hog_found']:5.1f}% {100 * b['retinaface_found']:5.1f}% "
                f"{b['hog_ms']['median']:7.1f} {b['retinaface_ms']['median']:6.1f}"
            )
    sf = doc["service_frames"]
    if sf["n"]:
        print(
            f"640x480 frames ({sf['n']}): HOG {sf['hog_ms']['median']:.1f} ms, RetinaFace {sf['retinaface_ms']['median']:.1f} ms (median)"
        )


# -- frozen evaluation ---------------------------------------------------------------------------


@dataclass
class ImageScores:
    """Per image: member softmax outputs of the most confident face (NaN rows = no box at all)."""

    samples: list[Sample]
    top_conf: np.ndarray  # (N,) confidence of the best RetinaFace box, 0 = none
    probs: np.ndarray  # (N, members, 3) softmax, NaN where no box
    model_ms: np.ndarray  # (N, members) ms per face for one session.run, NaN where not run now (cached)

    def live(self, min_confidence: float, member: int | None = None) -> np.ndarray:
        """P(live) per image: the members' mean (or one member's), NaN = no face at this floor."""
        p = self.probs[:, :, LIVE_INDEX]
        s = p.mean(axis=1) if member is None else p[:, member]
        return np.where(self.top_conf >= min_confidence, s, np.nan)

    def native(self, min_confidence: float) -> np.ndarray:
        """1.0 where the repo's argmax-of-sum says live, 0.0 otherwise, NaN = no face."""
        lab = np.argmax(np.nan_to_num(self.probs.sum(axis=1), nan=-1.0), axis=1) == LIVE_INDEX
        return np.where(self.top_conf >= min_confidence, lab.astype(float), np.nan)


def cached_detection(cache: JsonCache, key: str, path: Path) -> tuple[dict[str, Any], np.ndarray | None]:
    """RetinaFace's rows for one image (every row down to the network's floor, top 5), from
    ``cache`` or detected now and stored; the decoded image comes back when it had to be read."""
    det = cache.get(key)
    if det is not None:
        return det, None
    bgr = read_bgr(path)
    faces = detect_faces(bgr, "BGR", min_confidence=STORE_CONFIDENCE)
    det = {"shape": list(bgr.shape[:2]), "boxes": [f.as_list() for f in faces[:5]]}
    cache.put(key, det)
    return det, bgr


def score_images(samples: Sequence[Sample], pipeline: SilentFace, progress: bool = True) -> ImageScores:
    """Detect (cached) and score (cached) every sample with the pipeline."""
    rf_cache = JsonCache("retinaface.json")
    sc_cache = JsonCache("minifasnet-scores.json")
    n, m = len(samples), len(pipeline.members)
    conf = np.zeros(n)
    probs = np.full((n, m, 3), np.nan)
    ms = np.full((n, m), np.nan)
    for i, s in enumerate(samples):
        key = file_key(s.path)
        det, bgr = cached_detection(rf_cache, key, s.path)
        boxes = _boxes_from(det["boxes"], STORE_CONFIDENCE)
        if boxes:
            conf[i] = boxes[0].confidence
            cached = sc_cache.get(key)
            if cached is not None:
                probs[i] = np.asarray(cached)
            else:
                bgr = read_bgr(s.path) if bgr is None else bgr
                crops = pipeline.crops(bgr, boxes[0])
                for j in range(m):
                    t = time.perf_counter()
                    probs[i, j] = _run_member(pipeline, j, crops[j])
                    ms[i, j] = _ms(t)
                sc_cache.put(key, probs[i].tolist())
        if progress and i % 1000 == 0:
            print(f"  score {i}/{n}", flush=True)
    rf_cache.save()
    sc_cache.save()
    return ImageScores(list(samples), conf, probs, ms)


def _run_member(pipeline: SilentFace, j: int, crop: np.ndarray) -> np.ndarray:
    from ml.pretrained.minifasnet import softmax
    from ml.pretrained.silentface import to_input

    logits = pipeline.sessions[j].run(None, {pipeline.inputs[j]: to_input(crop)})[0]
    return softmax(np.asarray(logits, np.float64))[0]


def _presentations(samples: Sequence[Sample], scores: np.ndarray) -> Presentations:
    labels = np.array([s.label for s in samples])
    species = np.array([s.species for s in samples])
    return Presentations(scores, labels, species)


def _row(p: Presentations, threshold: float) -> dict[str, Any]:
    m = point_metrics(p, threshold, "reject")
    return {
        "n_live": m["n_live"],
        "n_spoof": m["n_spoof"],
        "n_no_face": int(p.no_face.sum()),
        "n_no_face_live": int((p.no_face & (p.labels == 1)).sum()),
        "bpcer": m["bpcer"],
        "apcer_max": m["apcer_max"],
        "apcer_pooled": m["apcer_pooled"],
        "acer": m["acer"],
        "eer": m["eer"],
        "bpcer_at_apcer_5pct": m["bpcer_at_apcer_5pct"],
    }


def _table(scores: ImageScores, live: np.ndarray, native: np.ndarray | None, idx: np.ndarray | None = None) -> dict[str, Any]:
    """Per-set rows and the pooled report for one score vector (optionally a subset ``idx``)."""
    samples = scores.samples if idx is None else [scores.samples[i] for i in idx]
    live = live if idx is None else live[idx]
    nat = None if native is None else (native if idx is None else native[idx])
    per_set: dict[str, Any] = {}
    sets = np.array([s.set_name for s in samples])
    for name in sorted(set(sets.tolist())):
        mask = sets == name
        sub = [samples[i] for i in np.flatnonzero(mask)]
        row = _row(_presentations(sub, live[mask]), NATIVE_THRESHOLD)
        if nat is not None:
            nrow = _row(_presentations(sub, nat[mask]), NATIVE_THRESHOLD)
            row["native_argmax"] = {k: nrow[k] for k in ("bpcer", "apcer_max", "acer")}
        per_set[name] = row
    p = _presentations(samples, live)
    pooled = pad_report(p, NATIVE_THRESHOLD, reps=200, seed=0)
    # The anchor's pooled ACER averages BPCER with the APCER of all attacks together.
    pooled["acer_pooled_apcer"] = (pooled["bpcer"] + pooled["apcer_pooled"]) / 2
    if nat is not None:
        nrow = _row(_presentations(samples, nat), NATIVE_THRESHOLD)
        pooled["native_argmax"] = {k: nrow[k] for k in ("bpcer", "apcer_max", "apcer_pooled", "acer")}
        pooled["native_argmax"]["acer_pooled_apcer"] = (nrow["bpcer"] + nrow["apcer_pooled"]) / 2
    return {"per_set": per_set, "pooled": pooled}


# -- attempts ------------------------------------------------------------------------------------


def _video_files(videos: Path) -> list[Path]:
    return sorted(p for p in videos.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)


def video_label(path: Path) -> int:
    """Live unless the file name says fake (../shared/datasets/README.md: fake* are replays)."""
    return 0 if "fake" in path.stem.lower() else LIVE


def _sampled_frames(path: Path, fps: float) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR frame) at about ``fps``, frames scaled so the longer side is at most 640."""
    cap = cv2.VideoCapture(str(path))
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    step = max(1, round(src_fps / fps))
    i = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % step == 0:
                longest = max(frame.shape[:2])
                if longest > MAX_VIDEO_SIDE:
                    s = MAX_VIDEO_SIDE / longest
                    frame = cv2.resize(frame, (round(frame.shape[1] * s), round(frame.shape[0] * s)), interpolation=cv2.INTER_AREA)
                yield i, frame
            i += 1
    finally:
        cap.release()


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)))


def window_scores(frame_live: np.ndarray, size: int = WINDOW_FRAMES, min_face_share: float = 0.5) -> list[dict[str, Any]]:
    """Non-overlapping windows of ``size`` frames (a shorter tail counts when >= size/2).

    Window score = mean P(live) over frames with a face, and the same via the mean log-odds;
    a window where fewer than ``min_face_share`` of the frames have a face is "no face" (rejected).
    """
    out = []
    for start in range(0, len(frame_live), size):
        w = frame_live[start : start + size]
        if len(w) < size / 2 and start > 0:
            break
        found = w[~np.isnan(w)]
        enough = found.size >= min_face_share * len(w)
        out.append(
            {
                "start": start,
                "n": len(w),
                "n_face": int(found.size),
                "mean": float(found.mean()) if enough else float("nan"),
                "mean_logodds": float(1 / (1 + math.exp(-_logit(found).mean()))) if enough else float("nan"),
            }
        )
    return out


def _attempt_rates(attempts: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """BPCER/APCER over attempts (no face = rejected), plus EER of the window scores."""
    labels = np.array([a["label"] for a in attempts])
    scores = np.array([a[key] for a in attempts], float)
    eff = np.where(np.isnan(scores), -np.inf, scores)
    live, spoof = labels == LIVE, labels == 0
    e, _ = eer(eff, labels)
    species = np.where(live, "bona_fide", "attack")
    return {
        "n_live": int(live.sum()),
        "n_attack": int(spoof.sum()),
        "bpcer": float((eff[live] < NATIVE_THRESHOLD).mean()) if live.any() else None,
        "apcer": float((eff[spoof] >= NATIVE_THRESHOLD).mean()) if spoof.any() else None,
        "eer": e,
        "bpcer_at_apcer_5pct": bpcer_at_apcer(eff, labels, species, 0.05),
    }


def video_attempts(videos: Path, pipeline: SilentFace, min_confidence: float) -> dict[str, Any]:
    """Windows of ~20 frames at ~8 fps from every shared video, scored per frame and averaged."""
    per_video: dict[str, Any] = {}
    attempts: list[dict[str, Any]] = []
    videos_scored: list[dict[str, Any]] = []
    for path in _video_files(videos):
        frame_live = []
        for _, frame in _sampled_frames(path, WINDOW_FPS):
            faces = detect_faces(frame, "BGR", min_confidence=min_confidence)
            frame_live.append(pipeline.score_box(frame, faces[0]).live if faces else float("nan"))
        arr = np.asarray(frame_live, float)
        label = video_label(path)
        wins = window_scores(arr)
        for w in wins:
            w["label"] = label
        attempts.extend(wins)
        accepted = sum(w["mean"] >= NATIVE_THRESHOLD for w in wins)
        videos_scored.append({"label": label, "video": 1.0 if wins and accepted >= len(wins) / 2 else 0.0})
        name = path.relative_to(videos).as_posix()
        per_video[name] = {
            "label": "live" if label == LIVE else "replay",
            "n_frames": int(arr.size),
            "frames_with_face": int(np.sum(~np.isnan(arr))),
            "frame_live_median": float(np.nanmedian(arr)) if np.any(~np.isnan(arr)) else None,
            "windows": len(wins),
            "windows_accepted_mean": int(accepted),
            "video_decision": "live" if videos_scored[-1]["video"] else "attack",
            "windows_accepted_logodds": int(sum(w["mean_logodds"] >= NATIVE_THRESHOLD for w in wins)),
            "window_scores": [round(w["mean"], 4) if not math.isnan(w["mean"]) else None for w in wins],
        }
        print(f"  {name}: {per_video[name]['windows_accepted_mean']}/{len(wins)} windows live", flush=True)
    return {
        "windows": f"{WINDOW_FRAMES} frames sampled at ~{WINDOW_FPS:g} fps, non-overlapping; frames scaled to <= {MAX_VIDEO_SIDE} px",
        "labels": "file names with 'fake' are replays, all others live (../shared/datasets/README.md)",
        "per_video": per_video,
        "mean": _attempt_rates(attempts, "mean"),
        "mean_logodds": _attempt_rates(attempts, "mean_logodds"),
        "per_video_decision": {
            "rule": "a video is accepted when at least half of its windows are (window = mean P(live) >= 0.5)",
            **_attempt_rates(videos_scored, "video"),
        },
    }


NUAA_NAME = re.compile(r"^(\d{4})_(\d{2})_(\d{2})_(\d{2})_(\d+)$")


def nuaa_windows(samples: Sequence[Sample], live: np.ndarray) -> dict[tuple[str, str, int, int], list[dict[str, Any]]]:
    """nuaa-train's frames as attempts: per (subject, session, class, n images), windows of 20
    consecutive images in frame order, each labelled with its class (other sets are skipped)."""
    groups: dict[tuple[str, str, int], list[tuple[tuple[int, ...], float]]] = {}
    for s, v in zip(samples, live, strict=True):
        m = NUAA_NAME.match(s.path.stem) if s.set_name == "nuaa-train" else None
        if m is None:
            continue
        subject, glasses, other, session, frame = m.groups()
        groups.setdefault((subject, session, s.label), []).append(((int(glasses), int(other), int(frame)), float(v)))
    out: dict[tuple[str, str, int, int], list[dict[str, Any]]] = {}
    for (subject, session, label), items in sorted(groups.items()):
        items.sort()
        wins = window_scores(np.array([v for _, v in items]))
        for w in wins:
            w["label"] = label
        out[(subject, session, label, len(items))] = wins
    return out


def nuaa_attempts(scores: ImageScores, min_confidence: float) -> dict[str, Any]:
    """nuaa-train grouped by subject + session (file ``<subject>_<glasses>_<?>_<session>_<frame>``), windows of 20 frames."""
    groups = nuaa_windows(scores.samples, scores.live(min_confidence))
    attempts = [w for wins in groups.values() for w in wins]
    per_group = {
        f"{subject}/s{session}/{'live' if label == LIVE else 'print'}": {
            "n_images": n_images,
            "windows": len(wins),
            "windows_accepted_mean": int(sum(w["mean"] >= NATIVE_THRESHOLD for w in wins)),
        }
        for (subject, session, label, n_images), wins in groups.items()
    }
    return {
        "grouping": "subject + session + class from the file name, images in frame order, windows of 20 consecutive images",
        "n_groups": len(groups),
        "per_group": per_group,
        "mean": _attempt_rates(attempts, "mean"),
        "mean_logodds": _attempt_rates(attempts, "mean_logodds"),
    }


# -- the evaluate command ------------------------------------------------------------------------


def time_models(pipeline: SilentFace, samples: Sequence[Sample], n: int = 200) -> dict[str, Any]:
    """CPU ms per face per member (1 onnxruntime thread), crop included, on ``n`` dataset faces."""
    _single_thread()
    ms: list[list[float]] = [[] for _ in pipeline.members]
    crop_ms: list[float] = []
    det_ms: list[float] = []
    step = max(1, len(samples) // n)
    for s in samples[::step][:n]:
        bgr = read_bgr(s.path)
        t = time.perf_counter()
        faces = detect_faces(bgr, "BGR")
        det_ms.append(_ms(t))
        if not faces:
            continue
        t = time.perf_counter()
        crops = pipeline.crops(bgr, faces[0])
        crop_ms.append(_ms(t))
        for j, c in enumerate(crops):
            t = time.perf_counter()
            _run_member(pipeline, j, c)
            ms[j].append(_ms(t))
    return {
        "threads": "onnxruntime intra_op 1, inter_op 1 (webapp.runtime.files.cpu_session, the service's settings); cv2 1 thread",
        "per_member_ms": {m.name: _summary(v) for m, v in zip(pipeline.members, ms, strict=True)},
        "both_models_ms_median": float(sum(np.median(v) for v in ms if v)),
        "crops_ms": _summary(crop_ms),
        "retinaface_ms": _summary(det_ms),
    }


def evaluate(data: Path, out_json: Path, videos: Path | None = None, limit: int = 0, min_confidence: float | None = None) -> dict[str, Any]:
    """The frozen evaluation (see module docstring); writes ``out_json`` and prints the tables."""
    _single_thread()
    floor = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    pipeline = SilentFace()
    samples = load_samples(data, limit)
    scores = score_images(samples, pipeline)
    live = scores.live(floor)
    native = scores.native(floor)
    anchor_idx = _subset_index(samples, cap_samples(samples, ANCHOR_CAP))
    doc: dict[str, Any] = {
        "kind": "evaluate",
        "data": str(data),
        "pipeline": "RetinaFace (most confident box, confidence >= floor) -> Silent-Face crop per model -> softmax -> mean live prob",
        "retinaface_min_confidence": floor,
        "threshold": NATIVE_THRESHOLD,
        "threshold_rule": "accept when the mean of the two models' softmax live probability is >= 0.5",
        "no_face": "rejected (live without a face = BPCER error; attack without a face = correct rejection)",
        "apcer": "apcer_max = worst PAI species (ml/metrics.py); apcer_pooled = all attacks together",
        "all_images": _table(scores, live, native),
        "anchor_protocol": {"cap_per_set_and_class": ANCHOR_CAP, **_table(scores, live, native, anchor_idx)},
        "per_model": {},
        "anchor": {k: dict(zip(("n_live", "n_spoof", "bpcer", "apcer", "acer", "eer"), v, strict=True)) for k, v in ANCHOR.items()},
    }
    for j, member in enumerate(pipeline.members):
        t = _table(scores, scores.live(floor, j), None, anchor_idx)
        doc["per_model"][member.name] = {
            k: t["pooled"][k] for k in ("bpcer", "apcer_max", "apcer_pooled", "acer", "eer", "bpcer_at_apcer_5pct")
        }
    # How the detector floor moves the anchor-protocol pool (from cached boxes: no re-detection).
    doc["floor_sweep"] = {
        f"{f:g}": {
            k: _table(scores, scores.live(f), None, anchor_idx)["pooled"][k] for k in ("bpcer", "apcer_pooled", "acer", "eer", "n_no_face")
        }
        for f in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
    }
    doc["timing"] = time_models(pipeline, samples)
    doc["attempts"] = {"nuaa": nuaa_attempts(scores, floor)}
    if videos is not None and videos.is_dir():
        doc["attempts"]["videos"] = video_attempts(videos, pipeline, floor)
    _write(out_json, doc)
    print_evaluation(doc)
    return doc


def _subset_index(samples: Sequence[Sample], subset: Sequence[Sample]) -> np.ndarray:
    wanted = {str(s.path) for s in subset}
    return np.array([i for i, s in enumerate(samples) if str(s.path) in wanted], int)


def _pct(v: Any) -> str:
    return "  n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:5.1f}"


def print_evaluation(doc: dict[str, Any]) -> None:
    table = doc["anchor_protocol"]
    print(f"{'set':14s} {'live':>5s} {'spoof':>5s} {'noface':>6s} {'BPCER':>6s} {'APCER':>6s} {'ACER':>6s} {'EER':>6s} | anchor ACER")
    for name, r in table["per_set"].items():
        a = doc["anchor"].get(name, {})
        print(
            f"{name:14s} {r['n_live']:5d} {r['n_spoof']:5d} {r['n_no_face']:6d} {_pct(r['bpcer'])}  {_pct(r['apcer_max'])}  "
            f"{_pct(r['acer'])}  {_pct(r['eer'])} | {a.get('acer')}"
        )
    for label, t in (("anchor protocol", table), ("all images", doc["all_images"])):
        p = t["pooled"]
        print(
            f"pooled ({label}): BPCER {_pct(p['bpcer'])} APCER_all {_pct(p['apcer_pooled'])} APCER_max {_pct(p['apcer_max'])} "
            f"ACER {_pct(p['acer'])} EER {_pct(p['eer'])} BPCER@APCER5 {_pct(p['bpcer_at_apcer_5pct'])}  (n {p['n_live']}/{p['n_spoof']}, "
            f"no face {p['n_no_face']})"
        )
    print(f"timing: {json.dumps(doc['timing']['per_member_ms'])}")
    for kind, att in doc["attempts"].items():
        print(f"attempts {kind}: mean {att['mean']}  log-odds {att['mean_logodds']}")


def card_metrics(docs: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics blocks for the cards, from ``evaluate`` and/or ``detect-report`` JSON."""
    items = docs if isinstance(docs, list) else [docs]
    out: dict[str, Any] = {}
    for doc in items:
        if doc.get("kind") == "evaluate":
            pool = doc["anchor_protocol"]["pooled"]
            keys = ("bpcer", "apcer_max", "apcer_pooled", "acer", "eer", "bpcer_at_apcer_5pct", "n_live", "n_spoof", "n_no_face")
            shared = {
                "method": (
                    "frozen (no retraining) on ../shared/datasets/pad, anchor protocol (<= 300 images per set and class), "
                    "RetinaFace >= 0.6 + Silent-Face crop, no face = rejected; python -m ml.pretrained evaluate"
                ),
                "fused_pooled": {k: pool[k] for k in keys},
                "fused_pooled_repo_argmax": pool.get("native_argmax", {}),
                # ../shared/notes/pad-anchor.md states percentages; cards hold fractions. Its APCER is
                # pooled over all attacks (not the worst species).
                "anchor_pooled": _anchor_fractions(doc["anchor"].get("all (pooled)", {})),
                "fused_per_set": {
                    k: {f: v[f] for f in ("bpcer", "apcer_max", "acer", "eer", "n_live", "n_spoof", "n_no_face")}
                    for k, v in doc["anchor_protocol"]["per_set"].items()
                },
                "attempts": {k: {"mean": v["mean"]} for k, v in doc["attempts"].items()},
            }
            for name, member in doc["per_model"].items():
                ms = doc["timing"]["per_member_ms"].get(name, {})
                out[name] = {"validation": {**shared, "this_model_alone_pooled": member, "ms_per_face_median": ms.get("median")}}
        elif doc.get("kind") == "detect-report":
            out["retinaface"] = {"detect_report": {"pooled": doc["pooled"], "service_frames": doc["service_frames"]}}
    return finite(out)


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(doc), indent=2) + "\n")


def _anchor_fractions(row: dict[str, Any]) -> dict[str, Any]:
    """The anchor's pooled row with rates as fractions, named as the cards name them."""
    names = {"bpcer": "bpcer", "apcer": "apcer_pooled", "acer": "acer", "eer": "eer"}
    out: dict[str, Any] = {k: v for k, v in row.items() if k.startswith("n_")}
    out.update({names[k]: v / 100.0 for k, v in row.items() if k in names})
    return out

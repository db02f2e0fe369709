"""``python -m ml.detector parity``: the ONNX detector against the Caffe one on every frame the
login sees, down to the liveness decision.

Frames: every clip of ../shared/datasets/videos sampled as the page sends it (about 8 fps,
at most 640 px wide, JPEG q85: ``ml.studies.attempts.attempt_frames``), and every still of
../shared/datasets/pad (``--pad-every`` to thin it). On each frame both detectors
(:class:`~ml.detector.reference.CaffeRetinaFace` = cv2.dnn on the prototxt, and the service's
:class:`~webapp.face.retinaface.RetinaFace` = onnxruntime + numpy) give their boxes down to the
card's ``matched_confidence`` floor, and the study reports:

* frames where the number of boxes differs at ``min_confidence`` and at ``matched_confidence``;
* over boxes paired by rank (both lists sorted by confidence; a pair whose IoU is under 0.5 is
  counted as a rank swap and paired by best IoU instead), the max |coordinate difference| in
  frame pixels and the max |confidence difference|;
* the liveness effect: the shipped ensemble scores the face framed on each side's box. The
  face is the one serving would frame: ``matching_box`` of each side's boxes against the same
  face box (the Caffe side's most confident box stands in for dlib's box, as the shipped members
  are all framed on the context box; dlib only picks which box). Reported: max |fused score
  difference|, max |member score difference|, and decision flips (fused >= the ensemble
  threshold on one side only), plus frames where only one side had a box to frame on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ml.detector.reference import CaffeRetinaFace
from webapp.face.retinaface import RetinaFace, ScoredBox, matching_box
from webapp.liveness import LivenessEnsemble, load_ensemble
from webapp.runtime.files import sha256_file

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared" / "datasets"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".webm", ".mov", ".avi", ".mkv"}


def video_frames(videos: Path) -> Iterator[tuple[str, np.ndarray]]:
    from ml.blink.frames import decode_rgb
    from ml.studies.attempts import attempt_frames

    for path in sorted(p for p in videos.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
        for _t, data in attempt_frames(path):
            yield str(path.relative_to(videos)), decode_rgb(data)


def pad_frames(pad: Path, every: int) -> Iterator[tuple[str, np.ndarray]]:
    from webapp.face.image import read_image_file

    for path in sorted(p for p in pad.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[::every]:
        try:
            rgb = read_image_file(str(path))
        except Exception:  # an unreadable still is no frame the login sees
            continue
        yield str(path.relative_to(pad)), rgb


def _iou(a: ScoredBox, b: ScoredBox) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


class Tally:
    """Running figures of one frame set."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.frames = 0
        self.count_diff = {"min_confidence": 0, "matched_confidence": 0}
        self.boxes = 0
        self.rank_swaps = 0
        self.max_coord = 0.0
        self.max_conf = 0.0
        self.scored = 0
        self.one_sided = 0
        self.max_fused = 0.0
        self.max_member = 0.0
        self.flips: list[str] = []
        self.worst: dict[str, Any] = {}

    def add(self, name: str, ref: list[ScoredBox], new: list[ScoredBox], floor: float) -> None:
        self.frames += 1
        if len(ref) != len(new):
            self.count_diff["matched_confidence"] += 1
        if sum(b.confidence >= floor for b in ref) != sum(b.confidence >= floor for b in new):
            self.count_diff["min_confidence"] += 1
        for i, a in enumerate(ref):
            if not new:
                break
            b = new[i] if i < len(new) else new[-1]
            if _iou(a, b) < 0.5:
                self.rank_swaps += 1
                b = max(new, key=lambda c: _iou(a, c))
            self.boxes += 1
            coord = max(abs(a.x1 - b.x1), abs(a.y1 - b.y1), abs(a.x2 - b.x2), abs(a.y2 - b.y2))
            if coord > self.max_coord:
                self.max_coord = coord
                self.worst["coord"] = {"frame": name, "caffe": a.as_list(), "onnx": b.as_list()}
            self.max_conf = max(self.max_conf, abs(a.confidence - b.confidence))

    def liveness(self, name: str, ensemble: LivenessEnsemble, rgb: np.ndarray, ref: list[ScoredBox], new: list[ScoredBox]) -> None:
        if not ref:
            if new:
                self.one_sided += 1
            return
        face = ref[0].as_box()
        a, b = matching_box(ref, face), matching_box(new, face)
        if a is None or b is None:
            self.one_sided += a is not b
            return
        sa = ensemble.score_face(rgb, face, None, a)
        sb = ensemble.score_face(rgb, face, None, b)
        self.scored += 1
        if sa.live_score is not None and sb.live_score is not None:
            diff = abs(sa.live_score - sb.live_score)
            if diff > self.max_fused:
                self.max_fused = diff
                self.worst["fused"] = {"frame": name, "caffe": sa.live_score, "onnx": sb.live_score}
            if (sa.live_score >= self.threshold) != (sb.live_score >= self.threshold):
                self.flips.append(name)
        for member, value in sa.models.items():
            if member in sb.models:
                self.max_member = max(self.max_member, abs(value - sb.models[member]))

    def summary(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "frames_with_box_count_diff": self.count_diff,
            "boxes_compared": self.boxes,
            "rank_swaps": self.rank_swaps,
            "max_abs_coord_diff_px": round(self.max_coord, 6),
            "max_abs_confidence_diff": round(self.max_conf, 6),
            "faces_scored": self.scored,
            "frames_boxed_on_one_side_only": self.one_sided,
            "max_abs_fused_score_diff": round(self.max_fused, 6),
            "max_abs_member_score_diff": round(self.max_member, 6),
            "decision_flips": len(self.flips),
            "flipped_frames": self.flips[:20],
            "worst": self.worst,
        }


def run(videos: Path, pad: Path, pad_every: int = 1, limit: int | None = None) -> dict[str, Any]:
    onnx = RetinaFace.load()
    caffe = CaffeRetinaFace.load()
    ensemble = load_ensemble(REPO_ROOT / "webapp" / "assets" / "models")
    card = onnx.card
    report: dict[str, Any] = {
        "onnx_sha256": sha256_file(card.onnx),
        "floors": {"min_confidence": card.min_confidence, "matched_confidence": card.matched_confidence},
        "ensemble": {"version": ensemble.card.version, "threshold": ensemble.threshold},
    }
    for label, frames in (("videos", video_frames(videos)), ("pad", pad_frames(pad, pad_every))):
        tally = Tally(ensemble.threshold)
        for i, (name, rgb) in enumerate(frames):
            if limit is not None and i >= limit:
                break
            ref = caffe.detect(rgb, card.matched_confidence)
            new = onnx.detect(rgb, card.matched_confidence)
            tally.add(name, ref, new, card.min_confidence)
            tally.liveness(name, ensemble, rgb, ref, new)
            if tally.frames % 500 == 0:
                print(f"{label}: {tally.frames} frames, max coord diff {tally.max_coord:.4f} px", file=sys.stderr, flush=True)
        report[label] = tally.summary()
        print(json.dumps({label: report[label]}, indent=1), file=sys.stderr, flush=True)
    return report


def accepted(report: dict[str, Any]) -> bool:
    """The brief's bar: no decision flip, no box-count change, sub-pixel boxes, on both sets."""
    sets = [report[k] for k in ("videos", "pad")]
    return all(
        s["decision_flips"] == 0 and not any(s["frames_with_box_count_diff"].values()) and s["max_abs_coord_diff_px"] < 1.0 for s in sets
    )


def card_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What the card keeps of a parity run."""
    keep = (
        "frames",
        "frames_with_box_count_diff",
        "boxes_compared",
        "max_abs_coord_diff_px",
        "max_abs_confidence_diff",
        "faces_scored",
        "frames_boxed_on_one_side_only",
        "max_abs_fused_score_diff",
        "max_abs_member_score_diff",
        "decision_flips",
    )
    return {
        "command": "python -m ml.detector parity --card",
        "onnx_sha256": report["onnx_sha256"],
        "reference": "cv2.dnn (OpenCV 4.14) running deploy.prototxt + the caffemodel, PriorBox and DetectionOutput included",
        "frames": "shared videos at 8 fps, <= 640 px wide, JPEG q85; every PAD still",
        "accepted": accepted(report),
        **{k: {f: report[k][f] for f in keep} for k in ("videos", "pad")},
    }

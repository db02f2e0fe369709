"""Dense landmark tracks of the shared videos: every frame, browser-encoded, 68 landmarks.

    python -m ml.blink.tracks [--videos DIR] [--out DIR] [--force]

One ``.npz`` per clip under ``.cache/ml/blink/tracks/`` (git-ignored; derived from the shared
datasets, so never committed): ``t`` (s), ``landmarks`` (N, 68, 2; NaN without a face), ``boxes``
(N, 4; -1 without a face), ``faces`` (faces found per frame) and ``size`` (h, w). Everything
downstream (labels, windows, planarity, segment search) reads these, so the dlib pass (about
25 ms a frame) runs once per clip.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.blink.frames import browser_jpeg, decode_rgb, video_frames
from ml.blink.paths import LIVE_VIDEOS, REPLAY_VIDEOS, SHARED_VIDEOS, TRACKS_DIR
from webapp.challenge.geometry import eye_aspect_ratio, head_pose
from webapp.face import Box, FaceEngine


@dataclass
class Track:
    """One clip's dense landmark track."""

    name: str  # "<set>/<file>"
    t: np.ndarray  # (N,) seconds
    landmarks: np.ndarray  # (N, 68, 2) float32, NaN without a face
    boxes: np.ndarray  # (N, 4) int32, -1 without a face
    faces: np.ndarray  # (N,) int
    size: tuple[int, int]  # (h, w) of the browser frame

    @property
    def has_face(self) -> np.ndarray:
        return self.faces >= 1

    def ears(self) -> np.ndarray:
        """Mean eye aspect ratio per frame (NaN without a face)."""
        out = np.full(len(self.t), np.nan)
        for i in np.flatnonzero(self.has_face):
            out[i] = eye_aspect_ratio(self.landmarks[i])
        return out

    def head_angles(self) -> tuple[np.ndarray, np.ndarray]:
        """(yaw, pitch) in degrees per frame from the service's pose estimate (NaN without a face)."""
        yaw, pitch = np.full(len(self.t), np.nan), np.full(len(self.t), np.nan)
        for i in np.flatnonzero(self.has_face):
            pose = head_pose(self.landmarks[i], self.size)
            yaw[i], pitch[i] = pose.yaw, pose.pitch
        return yaw, pitch

    def eye_ears(self) -> np.ndarray:
        """(N, 2) EAR of the image-left and image-right eye separately."""
        out = np.full((len(self.t), 2), np.nan)
        for i in np.flatnonzero(self.has_face):
            lm = self.landmarks[i]
            out[i, 0] = eye_aspect_ratio(np.concatenate([lm[:42], lm[36:42], lm[48:]]))  # right eye twice
            out[i, 1] = eye_aspect_ratio(np.concatenate([lm[:36], lm[42:48], lm[42:]]))  # left eye twice
        return out

    @property
    def duration(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0


def cache_path(name: str, out: Path = TRACKS_DIR) -> Path:
    return out / (name.replace("/", "__") + ".npz")


def observe(engine: FaceEngine, rgb: np.ndarray) -> tuple[int, np.ndarray | None, Box | None]:
    """(faces found, landmarks and box of the largest) in one frame, as the service sees it."""
    found = engine.detect(rgb)
    if not found:
        return 0, None, None
    return len(found), engine.observe(rgb, found[0], encode=False).landmarks, found[0]


def track_of(name: str, frames: Iterable[tuple[float, np.ndarray]], engine: FaceEngine) -> Track:
    """The dense track of timed RGB frames: landmarks (NaN without a face) and boxes per frame."""
    ts, lms, boxes, faces = [], [], [], []
    size = (0, 0)
    for t, rgb in frames:
        size = (int(rgb.shape[0]), int(rgb.shape[1]))
        n, landmarks, box = observe(engine, rgb)
        ts.append(t)
        faces.append(n)
        lms.append(landmarks.astype(np.float32) if landmarks is not None else np.full((68, 2), np.nan, np.float32))
        boxes.append(box.as_list() if box is not None else [-1, -1, -1, -1])
    return Track(name, np.asarray(ts), np.asarray(lms, np.float32), np.asarray(boxes, np.int32), np.asarray(faces), size)


def extract(video: Path, name: str, engine: FaceEngine) -> Track:
    """Run the service's detector and landmark model on every browser-encoded frame."""
    return track_of(name, ((t, decode_rgb(browser_jpeg(bgr))) for t, bgr in video_frames(video)), engine)


def save(track: Track, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, t=track.t, landmarks=track.landmarks, boxes=track.boxes, faces=track.faces, size=np.asarray(track.size))


def load(name: str, out: Path = TRACKS_DIR) -> Track:
    with np.load(cache_path(name, out)) as z:
        return Track(name, z["t"], z["landmarks"], z["boxes"], z["faces"], (int(z["size"][0]), int(z["size"][1])))


def cached(name: str, build: Callable[[], Track], out: Path = TRACKS_DIR, force: bool = False) -> Track:
    """The track cached under ``name``, built (and cached) first when missing or ``force``."""
    path = cache_path(name, out)
    if force or not path.exists():
        save(build(), path)
    return load(name, out)


def ensure(names: list[str] | tuple[str, ...], videos: Path = SHARED_VIDEOS, out: Path = TRACKS_DIR, force: bool = False) -> list[Track]:
    """Load the cached tracks, extracting the missing ones first."""
    engine: FaceEngine | None = None

    def build(name: str) -> Track:
        nonlocal engine
        engine = engine or FaceEngine()
        start = time.perf_counter()
        track = extract(videos / name, name, engine)
        print(f"{name}: {len(track.t)} frames, {int(track.has_face.sum())} with a face, {time.perf_counter() - start:.1f} s")
        return track

    return [cached(name, functools.partial(build, name), out, force) for name in names]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    ap.add_argument("--out", type=Path, default=TRACKS_DIR)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("names", nargs="*", help="clips as <set>/<file> (default: every live and replay clip)")
    args = ap.parse_args(argv)
    names = args.names or [*LIVE_VIDEOS, *REPLAY_VIDEOS]
    for tr in ensure(names, args.videos, args.out, args.force):
        ears = tr.ears()
        ok = np.isfinite(ears)
        med = float(np.median(ears[ok])) if ok.any() else float("nan")
        print(f"{tr.name:24s} frames {len(tr.t):4d} face {int(ok.sum()):4d} dur {tr.duration:5.1f}s median EAR {med:.3f}")


if __name__ == "__main__":
    main()

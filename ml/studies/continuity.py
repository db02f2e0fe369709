"""Calibrate the continuity cues (webapp/challenge/continuity.py) and measure them against cuts.

    python -m ml.studies.continuity --json runs/continuity.json [--runs 12] [--force]

(a) Live material: every live clip of ../shared/datasets/videos (plus the three replays, which
    are continuous recordings too, reported apart) is decoded once, frame at about 15 fps (``--dense-fps``)
    browser-encoded (480 px, JPEG q85) and analysed with the service's engine (HOG box, 68
    landmarks, head_pose, 128-d descriptor) -> frame signatures, cached under
    .cache/ml/studies/continuity/. Client sessions are then simulated at 4, 6, 8 and 10 fps
    (random phase, log-normal gap jitter, 8 % stalls of 0.2-0.9 s) and every pair of
    consecutive face frames is compared with the server-clock dt. The distributions (max,
    p99.9) give the thresholds; the check is 0 false breaks.
(b) Slideshows: 2-3 photos per person of ../shared/datasets/identity, chosen by measured yaw
    (frontal-most, then the most turned, then the most turned the other way; mirrored copies
    count as extra poses in the "mirror" variant), each repeated as a few frames with jitter
    (noise, 1-px shifts, brightness/contrast, JPEG quality 60-95) and shown as full frames, as
    a rectangle pasted onto one constant live background frame, or as a feathered face
    ellipse pasted onto it (a virtual camera). Switches happen one client interval later or
    after a 1 s pause. Reported: share of switches that break at least one cue (must be 1.0).
(c) Splices: cuts between two moments of the same live clip at least 3 s apart.

Everything derived from the shared data stays in .cache/ and runs/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ml.blink.frames import browser_jpeg, decode_rgb, video_frames
from ml.blink.paths import LIVE_VIDEOS, REPLAY_VIDEOS, SHARED_IDENTITY, SHARED_VIDEOS
from ml.paths import CACHE_DIR, RUNS_DIR
from webapp.challenge.continuity import (
    FACE_JUMP,
    POSE_JUMP,
    SCENE_BREAK,
    Continuity,
    ContinuitySettings,
    FrameSignature,
    breaks,
    compare,
    frame_signature,
)
from webapp.challenge.geometry import head_pose, inter_ocular_distance
from webapp.face import FaceEngine

STUDY_CACHE = CACHE_DIR / "studies" / "continuity"
RATES = (4.0, 6.0, 8.0, 10.0)
CUES = (SCENE_BREAK, POSE_JUMP, FACE_JUMP)


# --- per-frame analysis -------------------------------------------------------------------------


@dataclass
class Observed:
    """One analysed frame: face count, box, pose, scale and the signature (None without a face)."""

    faces: int
    sig: FrameSignature | None = None
    centre: tuple[float, float] = (0.0, 0.0)  # landmark centre, px
    iod: float = 0.0


def analyse(engine: FaceEngine, rgb: np.ndarray) -> Observed:
    """The service's view of one decoded frame (largest face), as the pipeline would build it."""
    found = engine.detect(rgb)
    if not found:
        return Observed(0)
    obs = engine.observe(rgb, found[0], encode=True)
    pose = head_pose(obs.landmarks, rgb.shape[:2])
    sig = frame_signature(rgb, found[0].as_list(), pose.yaw, pose.pitch, obs.encoding)
    c = obs.landmarks.mean(axis=0)
    return Observed(len(found), sig, (float(c[0]), float(c[1])), inter_ocular_distance(obs.landmarks))


@dataclass
class Dense:
    """A clip's analysed frames (every ``stride``-th), arrays aligned with ``t``."""

    name: str
    t: np.ndarray
    faces: np.ndarray
    thumbs: np.ndarray  # (N, 18, 24) uint8
    boxes: np.ndarray  # (N, 4) normalised
    yaw: np.ndarray
    pitch: np.ndarray
    enc: np.ndarray  # (N, 128), dequantised
    centre: np.ndarray  # (N, 2) px
    iod: np.ndarray

    def sig(self, i: int) -> FrameSignature:
        b = self.boxes[i]
        return FrameSignature(self.thumbs[i], (b[0], b[1], b[2], b[3]), float(self.yaw[i]), float(self.pitch[i]), self.enc[i])


def stride_for(name: str, dense_fps: float) -> int:
    """Analyse every n-th frame so that the analysed frames come at about ``dense_fps``."""
    cap = cv2.VideoCapture(str(SHARED_VIDEOS / name))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.release()
    return max(1, round(fps / dense_fps))


def dense(name: str, engine: FaceEngine, stride: int, force: bool = False) -> Dense:
    path = STUDY_CACHE / f"{name.replace('/', '__')}.s{stride}.npz"
    if force or not path.exists():
        start = time.perf_counter()
        rows: list[tuple[float, Observed]] = []
        for k, (t, bgr) in enumerate(video_frames(SHARED_VIDEOS / name)):
            if k % stride == 0:
                rows.append((t, analyse(engine, decode_rgb(browser_jpeg(bgr)))))
        n = len(rows)
        arr = {
            "t": np.array([r[0] for r in rows]),
            "faces": np.array([r[1].faces for r in rows]),
            "thumbs": np.zeros((n, 18, 24), np.uint8),
            "boxes": np.zeros((n, 4)),
            "yaw": np.full(n, np.nan),
            "pitch": np.full(n, np.nan),
            "enc": np.zeros((n, 128)),
            "centre": np.zeros((n, 2)),
            "iod": np.zeros(n),
        }
        for i, (_t, o) in enumerate(rows):
            if o.sig is not None:
                arr["thumbs"][i], arr["boxes"][i] = o.sig.thumb, o.sig.box
                arr["yaw"][i], arr["pitch"][i] = o.sig.yaw, o.sig.pitch
                arr["enc"][i] = o.sig.encoding if o.sig.encoding is not None else 0.0
                arr["centre"][i], arr["iod"][i] = o.centre, o.iod
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arr)  # type: ignore[arg-type]
        print(f"{name}: {n} frames, {int((arr['faces'] >= 1).sum())} with a face, {time.perf_counter() - start:.0f} s", flush=True)
    with np.load(path) as z:
        return Dense(name, **{k: z[k] for k in z.files})


# --- simulated client sessions ---------------------------------------------------------------------


def client_times(t0: float, t1: float, fps: float, rng: np.random.Generator, stall_p: float = 0.08) -> np.ndarray:
    """Request times of the page at about ``fps`` with one request in flight and occasional
    stalls (slow responses, busy tab) that leave gaps of up to about 1 s."""
    out, t = [], t0 + rng.uniform(0.0, 1.0 / fps)
    while t <= t1:
        out.append(t)
        gap = (1.0 / fps) * float(np.exp(rng.normal(0.0, 0.15)))
        if rng.random() < stall_p:
            gap += rng.uniform(0.2, 0.9)
        t += gap
    return np.asarray(out)


def session_pairs(d: Dense, fps: float, rng: np.random.Generator) -> Iterator[tuple[int, int, float]]:
    """(previous, current, server dt) for consecutive face frames of one simulated session."""
    times = client_times(float(d.t[0]), float(d.t[-1]), fps, rng)
    idx = np.searchsorted(d.t, times, side="right") - 1
    keep = (idx >= 0) & (d.faces[np.clip(idx, 0, None)] == 1)
    times, idx = times[keep], idx[keep]
    for k in range(1, len(idx)):
        yield int(idx[k - 1]), int(idx[k]), float(times[k] - times[k - 1])


def row(c: Continuity, settings: ContinuitySettings, **extra: Any) -> dict[str, Any]:
    return {
        "dt": c.dt,
        "scene": c.scene,
        "cells": c.scene_cells,
        "gain": c.gain,
        "shift": max(abs(c.shift[0]), abs(c.shift[1])),
        "dyaw": c.yaw_change,
        "dpitch": c.pitch_change,
        "maxyaw": c.max_abs_yaw,
        "face": c.face,
        "breaks": breaks(c, settings),
        **extra,
    }


def stats(values: list[float] | np.ndarray) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return {"n": 0}
    return {
        "n": len(a),
        "p50": round(float(np.quantile(a, 0.5)), 4),
        "p99": round(float(np.quantile(a, 0.99)), 4),
        "p99.9": round(float(np.quantile(a, 0.999)), 4),
        "max": round(float(a.max()), 4),
    }


def live_rows(clips: list[Dense], runs: int, settings: ContinuitySettings, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for d in clips:
        for fps in RATES:
            for run in range(runs):
                for i, j, dt in session_pairs(d, fps, rng):
                    out.append(row(compare(d.sig(i), d.sig(j), dt, settings), settings, clip=d.name, fps=fps, run=run, i=i, j=j))
    return out


def envelope(rows: list[dict[str, Any]], key: str, rates: tuple[float, ...]) -> dict[str, float]:
    """For each candidate speed, the smallest slack covering every live pair: max(value - speed*dt)."""
    v = np.array([r[key] for r in rows], np.float64)
    dt = np.array([r["dt"] for r in rows], np.float64)
    ok = np.isfinite(v)
    return {str(s): round(float(np.max(v[ok] - s * dt[ok])), 4) for s in rates}


def live_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    dt = np.array([r["dt"] for r in rows])
    short = [r for r in rows if r["dt"] <= 0.3]
    long_ = [r for r in rows if r["dt"] > 0.3]
    return {
        "pairs": len(rows),
        "dt": stats(dt),
        "scene": stats([r["scene"] for r in rows]),
        "scene_measurable": round(float(np.mean([math.isfinite(r["scene"]) for r in rows])), 4),
        "scene_shift_cells": stats([r["shift"] for r in rows]),
        "gain": {"min": round(min(r["gain"] for r in rows), 4), "max": round(max(r["gain"] for r in rows), 4)},
        "dyaw": stats([r["dyaw"] for r in rows]),
        "dyaw_dt<=0.3": stats([r["dyaw"] for r in short]),
        "dyaw_dt>0.3": stats([r["dyaw"] for r in long_]),
        "dpitch": stats([r["dpitch"] for r in rows]),
        "yaw_speed_deg_s": stats([r["dyaw"] / max(r["dt"], 1e-3) for r in rows]),
        "yaw_slack_needed_by_speed": envelope(rows, "dyaw", (0, 30, 60, 90, 120, 150, 200)),
        "pitch_slack_needed_by_speed": envelope(rows, "dpitch", (0, 30, 60, 90, 120, 150, 200)),
        "face": stats([r["face"] for r in rows]),
        "face_dt<=0.3": stats([r["face"] for r in short]),
        "face_dt>0.3": stats([r["face"] for r in long_]),
        "face_base_needed_by_rate": envelope(rows, "face", (0.0, 0.05, 0.1, 0.2, 0.3)),
        "breaks": {cue: sum(cue in r["breaks"] for r in rows) for cue in CUES},
        "pairs_with_any_break": sum(bool(r["breaks"]) for r in rows),
        "per_clip_max": {
            name: {
                "scene": stats([r["scene"] for r in rows if r["clip"] == name]).get("max"),
                "dyaw": stats([r["dyaw"] for r in rows if r["clip"] == name]).get("max"),
                "face": stats([r["face"] for r in rows if r["clip"] == name]).get("max"),
            }
            for name in dict.fromkeys(r["clip"] for r in rows)
        },
    }


def worst(rows: list[dict[str, Any]], key: str, n: int = 5) -> list[dict[str, Any]]:
    keep = [r for r in rows if math.isfinite(r[key])]
    return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in sorted(keep, key=lambda r: -r[key])[:n]]


# --- spliced live videos ----------------------------------------------------------------------------


def splice_rows(clips: list[Dense], settings: ContinuitySettings, rng: np.random.Generator, per_clip: int = 200) -> list[dict[str, Any]]:
    """Cuts from frame i to frame j of the same clip, |t_i - t_j| >= 3 s, one client interval
    (4-10 fps) or a 1 s pause apart on the server clock."""
    out = []
    for d in clips:
        face = np.flatnonzero(d.faces == 1)
        n = 0
        for _ in range(per_clip * 20):
            if n >= per_clip:
                break
            i, j = (int(v) for v in rng.choice(face, 2, replace=False))
            if abs(d.t[i] - d.t[j]) < 3.0:
                continue
            n += 1
            moved = float(np.linalg.norm(d.centre[i] - d.centre[j]) / max(1e-6, (d.iod[i] + d.iod[j]) / 2))
            differs = abs(d.yaw[i] - d.yaw[j]) >= 10.0 or abs(d.pitch[i] - d.pitch[j]) >= 10.0 or moved >= 0.5
            for pause in (False, True):
                dt = 1.0 if pause else 1.0 / float(rng.choice(RATES))
                c = compare(d.sig(i), d.sig(j), dt, settings)
                out.append(row(c, settings, clip=d.name, pause=pause, differs=differs, moved=moved))
    return out


def detection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"n": 0}
    return {
        "n": len(rows),
        "detected": round(float(np.mean([bool(r["breaks"]) for r in rows])), 4),
        **{cue: round(float(np.mean([cue in r["breaks"] for r in rows])), 4) for cue in CUES},
    }


# --- slideshows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    path: str
    rgb: np.ndarray
    yaw: float
    mirrored: bool


def person_photos(engine: FaceEngine, folder: Path) -> list[Photo]:
    """The person's photos with one face, measured yaw (mirrored copies added separately)."""
    out = []
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        bgr = cv2.imread(str(f))
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        framed = full_frame(rgb)
        o = analyse(engine, framed)
        if o.faces == 1 and o.sig is not None:
            out.append(Photo(f"{folder.parent.name}/{folder.name}/{f.name}", rgb, o.sig.yaw, False))
    return out


def choose(photos: list[Photo], mirror: bool) -> list[Photo]:
    """2-3 photos that differ in pose: the frontal-most, the most turned, then the most turned
    to the other side (when it differs by 10 degrees or more from the frontal one)."""
    pool = list(photos)
    if mirror:
        pool += [Photo(p.path + "@mirror", np.ascontiguousarray(p.rgb[:, ::-1]), -p.yaw, True) for p in photos]
    if len(pool) < 2:
        return []
    frontal = min(pool, key=lambda p: abs(p.yaw))
    rest = [p for p in pool if p is not frontal]
    turned = max(rest, key=lambda p: abs(p.yaw - frontal.yaw))
    chosen = [frontal, turned]
    other = [p for p in rest if p is not turned and (p.yaw - frontal.yaw) * (turned.yaw - frontal.yaw) < 0]
    if other:
        third = max(other, key=lambda p: abs(p.yaw - frontal.yaw))
        if abs(third.yaw - frontal.yaw) >= 10.0:
            chosen.append(third)
    return chosen


def full_frame(rgb: np.ndarray, size: tuple[int, int] = (480, 360)) -> np.ndarray:
    """The photo filling a 480x360 frame (centre crop to 4:3, then resize), as a virtual camera shows it."""
    w, h = size
    ph, pw = rgb.shape[:2]
    target = w / h
    if pw / ph > target:
        nw = round(ph * target)
        rgb = rgb[:, (pw - nw) // 2 : (pw - nw) // 2 + nw]
    else:
        nh = round(pw / target)
        rgb = rgb[(ph - nh) // 2 : (ph - nh) // 2 + nh]
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if rgb.shape[1] > w else cv2.INTER_LINEAR)


def composite(
    photo: np.ndarray, background: np.ndarray, anchor: tuple[float, float, float], ellipse: bool, engine: FaceEngine
) -> np.ndarray:
    """Paste the photo onto ``background`` so its face lands on ``anchor`` (x, y, face width px):
    the whole photo as a rectangle (a print held up) or a feathered face ellipse (a face swap)."""
    framed = full_frame(photo)
    found = engine.detect(framed)
    if not found:
        return background.copy()
    b = found[0]
    scale = anchor[2] / max(1, b.width)
    small = cv2.resize(
        framed, (max(1, round(framed.shape[1] * scale)), max(1, round(framed.shape[0] * scale))), interpolation=cv2.INTER_AREA
    )
    cx, cy = b.center[0] * scale, b.center[1] * scale
    ox, oy = round(anchor[0] - cx), round(anchor[1] - cy)
    out = background.astype(np.float32)
    h, w = background.shape[:2]
    alpha = np.zeros((small.shape[0], small.shape[1]), np.float32)
    if ellipse:
        axes = (round(0.75 * b.width * scale), round(0.95 * b.height * scale))
        cv2.ellipse(alpha, (round(cx), round(cy)), axes, 0, 0, 360, 1.0, -1)
        alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, 0.08 * b.width * scale))
    else:
        alpha[:] = 1.0
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(w, ox + small.shape[1]), min(h, oy + small.shape[0])
    if x1 <= x0 or y1 <= y0:
        return background.copy()
    a = alpha[y0 - oy : y1 - oy, x0 - ox : x1 - ox, None]
    out[y0:y1, x0:x1] = a * small[y0 - oy : y1 - oy, x0 - ox : x1 - ox] + (1 - a) * out[y0:y1, x0:x1]
    return np.clip(out, 0, 255).astype(np.uint8)


def jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A re-sent frame made to look fresh: 1-px shift, gain/offset, noise, random JPEG quality."""
    dx, dy = (int(v) for v in rng.integers(-1, 2, 2))
    img: np.ndarray = np.roll(rgb, (dy, dx), axis=(0, 1)).astype(np.float64)
    img = img * rng.uniform(0.94, 1.06) + rng.uniform(-6, 6) + rng.normal(0, rng.uniform(1.0, 3.0), img.shape)
    q = int(rng.integers(60, 96))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert ok and decoded is not None
    return decode_rgb(browser_jpeg(decoded))


def slideshow_rows(
    engine: FaceEngine,
    backgrounds: list[tuple[np.ndarray, tuple[float, float, float]]],
    settings: ContinuitySettings,
    rng: np.random.Generator,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(switch pairs, within-photo pairs) over every person, mode, mirroring and pause."""
    switches: list[dict[str, Any]] = []
    repeats: list[dict[str, Any]] = []
    people = sorted(p for s in sorted(SHARED_IDENTITY.iterdir()) for p in s.iterdir() if p.is_dir())
    for person in people:
        photos = person_photos(engine, person)
        for mirror in (False, True):
            chosen = choose(photos, mirror)
            if len(chosen) < 2:
                continue
            for mode in ("full", "rect", "ellipse"):
                bg, anchor = backgrounds[int(rng.integers(len(backgrounds)))]
                frames = []
                for p in chosen:
                    base = full_frame(p.rgb) if mode == "full" else composite(p.rgb, bg, anchor, mode == "ellipse", engine)
                    obs = [analyse(engine, jitter(base, rng)) for _ in range(2)]
                    frames.append((p, obs))
                for k in range(len(frames)):
                    p, obs = frames[k]
                    if obs[0].sig is not None and obs[1].sig is not None:
                        c = compare(obs[0].sig, obs[1].sig, 1.0 / float(rng.choice(RATES)), settings)
                        repeats.append(row(c, settings, person=str(person.relative_to(SHARED_IDENTITY)), mode=mode, mirror=mirror))
                    if k == 0:
                        continue
                    prev_p, prev_obs = frames[k - 1]
                    a, b = prev_obs[1].sig, obs[0].sig
                    for pause in (False, True):
                        extra = {
                            "person": str(person.relative_to(SHARED_IDENTITY)),
                            "mode": mode,
                            "mirror": mirror,
                            "pause": pause,
                            "from": prev_p.path,
                            "to": p.path,
                            "photo_dyaw": round(abs(p.yaw - prev_p.yaw), 2),
                        }
                        if a is None or b is None:
                            switches.append({"lost_face": True, "breaks": [], **extra})
                            continue
                        dt = 1.0 if pause else 1.0 / float(rng.choice(RATES))
                        switches.append(row(compare(a, b, dt, settings), settings, lost_face=False, **extra))
    return switches, repeats


def live_backgrounds(clips: list[Dense], engine: FaceEngine) -> list[tuple[np.ndarray, tuple[float, float, float]]]:
    """One browser frame from the middle of each landscape live clip, and its face (x, y, width)."""
    out = []
    for d in clips:
        for k, (_t, bgr) in enumerate(video_frames(SHARED_VIDEOS / d.name)):
            if k < 30:
                continue
            rgb = decode_rgb(browser_jpeg(bgr))
            if rgb.shape[1] < rgb.shape[0]:
                break
            found = engine.detect(rgb)
            if found:
                b = found[0]
                out.append((rgb, (b.center[0], b.center[1], b.width * 1.15)))
            break
    return out


def tradeoff(live: list[dict[str, Any]], attack: list[dict[str, Any]], settings: ContinuitySettings) -> dict[str, Any]:
    """Live false-break pairs against slideshow switches caught, for tighter pose and face limits
    (the values are raw measurements, so the limits can be varied after the fact)."""

    def pose_hits(rows: list[dict[str, Any]], slack: float) -> np.ndarray:
        p = settings.pose
        return np.array(
            [
                r.get("maxyaw", 0.0) <= p.max_abs_yaw
                and (r["dyaw"] > slack + p.yaw_speed * r["dt"] or r["dpitch"] > p.pitch_slack + p.pitch_speed * r["dt"])
                for r in rows
            ]
        )

    out: dict[str, Any] = {"pose_slack": {}, "face_limit": {}}
    for slack in (10.0, 20.0, 30.0, 40.0):
        out["pose_slack"][str(slack)] = {
            "live_false": int(pose_hits(live, slack).sum()),
            "switches_caught": round(float(pose_hits(attack, slack).mean()), 4),
        }
    for lim in (0.4, 0.45, 0.5, 0.55, 0.65):
        out["face_limit"][str(lim)] = {
            "live_false": sum(r["face"] > lim for r in live),
            "switches_caught": round(float(np.mean([r["face"] > lim for r in attack])), 4),
        }
    return out


# --- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, default=RUNS_DIR / "continuity.json")
    ap.add_argument("--runs", type=int, default=12, help="simulated sessions per clip and rate")
    ap.add_argument("--dense-fps", type=float, default=15.0, help="analyse the clips' frames at about this rate (30 fps -> every 2nd)")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--force", action="store_true", help="re-analyse the clips")
    ap.add_argument("--skip-attacks", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    settings = ContinuitySettings()
    engine = FaceEngine()
    live = [dense(n, engine, stride_for(n, args.dense_fps), args.force) for n in LIVE_VIDEOS]
    replays = [dense(n, engine, stride_for(n, args.dense_fps), args.force) for n in REPLAY_VIDEOS]
    start = time.perf_counter()
    live_pairs = live_rows(live, args.runs, settings, rng)
    replay_pairs = live_rows(replays, args.runs, settings, rng)
    report: dict[str, Any] = {
        "settings": asdict(settings),
        "args": {k: str(v) for k, v in vars(args).items()},
        "live": live_report(live_pairs),
        "live_worst": {k: worst(live_pairs, k) for k in ("scene", "dyaw", "dpitch", "face")},
        "replay_recordings": live_report(replay_pairs),
    }
    print(f"live pairs: {len(live_pairs)} ({time.perf_counter() - start:.0f} s)", flush=True)
    splices = splice_rows(live, settings, rng)
    report["splices"] = {
        "all": detection(splices),
        "differs": detection([r for r in splices if r["differs"]]),
        "differs_no_pause": detection([r for r in splices if r["differs"] and not r["pause"]]),
        "differs_pause_1s": detection([r for r in splices if r["differs"] and r["pause"]]),
        "same_pose_and_place": detection([r for r in splices if not r["differs"]]),
        "missed_differs": worst([r for r in splices if r["differs"] and not r["breaks"]], "moved", 8),
    }
    if not args.skip_attacks:
        backgrounds = live_backgrounds(live, engine)
        switches, repeats = slideshow_rows(engine, backgrounds, settings, rng)
        measured = [r for r in switches if not r.get("lost_face")]
        report["slideshow"] = {
            "backgrounds": len(backgrounds),
            "switches": detection(measured),
            "lost_face_at_switch": sum(bool(r.get("lost_face")) for r in switches),
            "by_mode": {
                f"{m}{'+mirror' if mi else ''}{'+pause' if pa else ''}": detection(
                    [r for r in measured if r["mode"] == m and r["mirror"] == mi and r["pause"] == pa]
                )
                for m in ("full", "rect", "ellipse")
                for mi in (False, True)
                for pa in (False, True)
            },
            "switch_values": {k: stats([r[k] for r in measured]) for k in ("scene", "dyaw", "face")},
            "switch_min": {k: round(float(np.nanmin([r[k] for r in measured])), 4) for k in ("scene", "dyaw", "face")},
            "missed": sum(not r["breaks"] for r in measured),
            "rows": measured,
            "within_photo_pairs": detection(repeats),
            "tradeoff": tradeoff(live_pairs, measured, settings),
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, default=float))
    print(
        json.dumps(
            {k: report[k] for k in ("live", "splices")} | ({"slideshow": report["slideshow"]} if "slideshow" in report else {}),
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()

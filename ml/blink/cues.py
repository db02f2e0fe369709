"""Measure the motion, planarity, track and perceptual-hash cues and calibrate their thresholds.

    python -m ml.blink.cues planarity [--json runs/blink/planarity.json]
    python -m ml.blink.cues phash     [--json runs/blink/phash.json]
    python -m ml.blink.cues track     [--json runs/blink/track.json]
    python -m ml.blink.cues stillness [--json runs/blink/stillness.json]
    python -m ml.blink.cues cost      [--json runs/blink/cost.json]

* planarity: (a) real head motion in the live clips (every client-rate frame against the
  attempt's first frame, and the turn pairs with |delta yaw| >= 15 degrees) versus (b) photos
  moved in 3-D: frontal frames of the live clips and the shared identity photos warped by plane
  rotations (yaw/pitch up to 45 degrees), shifts, roll and scale with cv2.warpPerspective, plus
  sensor noise and the browser's JPEG, landmarks by the service's engine.
* phash: Hamming distances of face-region pHash/dHash between frames of the live clips as the
  server receives them (4-10 fps, JPEG q0.85, every earlier frame of a 12 s attempt) versus
  the same frames re-sent: re-encoded at another quality, with +-3 grey levels of noise, or
  rescaled by 2 %; and photo-on-a-stand tracks.
* track: face-centre shift and scale change between consecutive client frames of live clips.
* stillness: frame-to-frame rigid landmark motion of live clips versus still and hand-held photos.
* cost: median milliseconds of each per-frame cue on a 480x360 frame.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ml.blink.frames import browser_jpeg, decode_rgb, video_frames
from ml.blink.paths import BLINK_RUNS, LIVE_VIDEOS, SHARED_IDENTITY, SHARED_VIDEOS
from ml.blink.stills import STILLS_DIR, load_all
from ml.blink.synth import camera_noise, jpeg_roundtrip, list_photos, plane_homography, webcam_frame
from ml.blink.tracks import Track, ensure, observe
from ml.blink.windows import client_times
from webapp.challenge.geometry import head_pose, same_face_track
from webapp.challenge.motion import MotionSettings, MotionSummary, motion_is_planar, planarity, update_motion
from webapp.face import FaceEngine, encode_jpeg
from webapp.replay.hashes import fingerprint_distance, frame_hash, hamming


def q(values: list[float] | np.ndarray, qs: tuple[float, ...] = (0.0, 0.01, 0.05, 0.5, 0.95, 0.99, 1.0)) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return {"n": 0}
    return {"n": len(a), **{f"p{int(x * 100)}": round(float(np.quantile(a, x)), 4) for x in qs}}


def sampled_indices(
    track: Track, fps: float, rng: np.random.Generator, start: float | None = None, span: float | None = None
) -> np.ndarray:
    t0 = track.t[0] if start is None else start
    t1 = track.t[-1] if span is None else min(track.t[-1], t0 + span)
    idx = np.searchsorted(track.t, client_times(t0, t1, fps, rng, stall_p=0.0), side="right") - 1
    idx = idx[idx >= 0]
    return idx[track.has_face[idx]]


# --- planarity --------------------------------------------------------------------------------


def real_pairs(tracks: list[Track], rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-pair fits (each client frame against the attempt's first) and per-attempt summaries."""
    pairs, attempts = [], []
    for tr in tracks:
        yaw = tr.head_angles()[0]
        for fps in (4.0, 6.0, 8.0):
            for _ in range(5):
                start = float(rng.uniform(tr.t[0], tr.t[0] + 0.5 * tr.duration))
                idx = sampled_indices(tr, fps, rng, start, span=12.0)
                if len(idx) < 4:
                    continue
                ref = idx[0]
                summary: MotionSummary | None = None
                for i in idx:
                    summary = update_motion(summary, tr.landmarks[i], float(yaw[i]))
                    if i != ref:
                        fit = planarity(tr.landmarks[ref], tr.landmarks[i])
                        pairs.append(
                            {
                                "clip": tr.name,
                                "sim": fit.similarity_rms,
                                "hom": fit.homography_rms,
                                "unexplained": fit.unexplained,
                                "dyaw": float(abs(yaw[i] - yaw[ref])),
                            }
                        )
                assert summary is not None
                attempts.append(
                    {
                        "clip": tr.name,
                        "turned": summary.turned,
                        "planar_turned": summary.planar_turned,
                        "planar": motion_is_planar(summary),
                    }
                )
    return pairs, attempts


def photo_sources(per_person: int = 2) -> list[tuple[str, np.ndarray]]:
    """Frontal frames of the live clips and identity photos, as 480x360 'photos'."""
    photos: list[tuple[str, np.ndarray]] = []
    for name in LIVE_VIDEOS:
        for k, (_t, bgr) in enumerate(video_frames(SHARED_VIDEOS / name)):
            if k == 15:
                photos.append((f"{name}@15", webcam_frame(decode_rgb(browser_jpeg(bgr)))))
                break
    for src in ("5celeb", "deepface", "sivakumar", "willydev"):
        for p in list_photos(SHARED_IDENTITY / src, per_person):
            img = cv2.imread(str(p))
            if img is not None:
                photos.append((f"{src}/{p.parent.name}/{p.name}", webcam_frame(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))))
    return photos


def _observe(engine: FaceEngine, frame: np.ndarray) -> tuple[np.ndarray, float] | None:
    _n, lm, _box = observe(engine, frame)
    if lm is None:
        return None
    return lm, head_pose(lm, frame.shape[:2]).yaw


def photo_pairs(
    engine: FaceEngine, rng: np.random.Generator, photos: list[tuple[str, np.ndarray]], warps_per_photo: int = 10
) -> list[dict[str, Any]]:
    """A photo and random 3-D placements of it (yaw +-45, pitch +-40, roll +-15 deg, shifts, zoom)."""
    out = []
    for name, base in photos:
        size = base.shape[:2]
        first = _observe(engine, jpeg_roundtrip(camera_noise(base, rng, 2.5, 1.0)))
        if first is None:
            continue
        lm0, yaw0 = first
        for _ in range(warps_per_photo):
            yaw, pitch = rng.uniform(-45, 45), rng.uniform(-40, 40)
            hmat = plane_homography(
                size, yaw, pitch, rng.uniform(-15, 15), (rng.uniform(-40, 40), rng.uniform(-30, 30)), rng.uniform(0.85, 1.25)
            )
            warped = cv2.warpPerspective(base, hmat, (size[1], size[0]), borderValue=(90, 90, 90))
            seen = _observe(engine, jpeg_roundtrip(camera_noise(warped, rng, 2.5, float(rng.normal(1, 0.02)))))
            if seen is None:
                continue
            fit = planarity(lm0, seen[0])
            out.append(
                {
                    "photo": name,
                    "plane_yaw": float(yaw),
                    "plane_pitch": float(pitch),
                    "sim": fit.similarity_rms,
                    "hom": fit.homography_rms,
                    "unexplained": fit.unexplained,
                    "dyaw": float(abs(seen[1] - yaw0)),
                }
            )
    return out


TURN_RAMP = (0.0, 0.0, 0.0, 12.0, 24.0, 36.0, 42.0, 36.0, 24.0, 12.0, 0.0, 0.0)


def photo_turn_attempts(engine: FaceEngine, rng: np.random.Generator, photos: list[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
    """The photo attack on a turn step: the photo is swung about its vertical axis to 42 degrees
    and back (with a little pitch and roll wobble), 12 frames, through the service's engine."""
    out = []
    for name, base in photos:
        size = base.shape[:2]
        sign = float(rng.choice([-1.0, 1.0]))
        summary: MotionSummary | None = None
        yaws = []
        for plane_yaw in TURN_RAMP:
            hmat = plane_homography(size, sign * plane_yaw, rng.normal(0, 4), rng.normal(0, 2), (rng.normal(0, 3), rng.normal(0, 3)), 1.0)
            warped = cv2.warpPerspective(base, hmat, (size[1], size[0]), borderValue=(90, 90, 90))
            seen = _observe(engine, jpeg_roundtrip(camera_noise(warped, rng, 2.5, float(rng.normal(1, 0.01)))))
            if seen is None:
                continue
            summary = update_motion(summary, seen[0], seen[1])
            yaws.append(seen[1])
        if summary is None or len(yaws) < 4:
            continue
        out.append(
            {
                "photo": name,
                "max_dyaw": round(float(max(abs(y - yaws[0]) for y in yaws)), 1),
                "turned": summary.turned,
                "planar_turned": summary.planar_turned,
                "planar": motion_is_planar(summary),
            }
        )
    return out


def tilt_track_attempts() -> list[dict[str, Any]]:
    out = []
    for tr in load_all(("frtest", "sivakumar"), STILLS_DIR):
        if not tr.name.endswith("tilt"):
            continue
        yaw = tr.head_angles()[0]
        summary: MotionSummary | None = None
        for i in np.flatnonzero(tr.has_face)[::3]:  # 15 fps track -> 5 fps attempt
            summary = update_motion(summary, tr.landmarks[i], float(yaw[i]))
        if summary is not None:
            out.append(
                {
                    "track": tr.name,
                    "turned": summary.turned,
                    "planar_turned": summary.planar_turned,
                    "planar": motion_is_planar(summary),
                }
            )
    return out


def planarity_report() -> dict[str, Any]:
    rng = np.random.default_rng(4)
    engine = FaceEngine()
    settings = MotionSettings()
    real, real_attempts = real_pairs(ensure(LIVE_VIDEOS), rng)
    photos = photo_sources()  # decoded once for both studies
    photo = photo_pairs(engine, rng, photos)
    attacks = photo_turn_attempts(engine, rng, photos)
    tilts = tilt_track_attempts()

    def turned(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [p for p in pairs if p["dyaw"] >= settings.min_turn and p["sim"] >= settings.min_motion]

    rt, pt = turned(real), turned(photo)
    rep: dict[str, Any] = {
        "settings": {"min_motion": settings.min_motion, "min_turn": settings.min_turn, "max_unexplained": settings.max_unexplained},
        "pairs": {
            "real_turned": {"n": len(rt), "unexplained": q([p["unexplained"] for p in rt]), "hom": q([p["hom"] for p in rt])},
            "photo_turned": {"n": len(pt), "unexplained": q([p["unexplained"] for p in pt]), "hom": q([p["hom"] for p in pt])},
            "photo_read_as_turn_share": round(len([p for p in photo if p["dyaw"] >= 18]) / max(1, len(photo)), 3),
            "real_turned_flagged_planar": round(float(np.mean([p["unexplained"] <= settings.max_unexplained for p in rt])), 4)
            if rt
            else None,
            "photo_turned_flagged_planar": round(float(np.mean([p["unexplained"] <= settings.max_unexplained for p in pt])), 4)
            if pt
            else None,
        },
        "threshold_sweep": {
            f"{thr:.2f}": {
                "real_turned_flagged": round(float(np.mean([p["unexplained"] <= thr for p in rt])), 4),
                "photo_turned_flagged": round(float(np.mean([p["unexplained"] <= thr for p in pt])), 4),
            }
            for thr in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
        },
        "attempts": {
            "real": _verdicts(real_attempts),
            "photo_turn_attack": {
                **_verdicts(attacks),
                "passes_turn_step_share": round(float(np.mean([a["max_dyaw"] >= 18 for a in attacks])), 3) if attacks else None,
            },
            "photo_rocked_tilt_tracks": _verdicts(tilts),
        },
        "counts": {"real_pairs": len(real), "photo_pairs": len(photo), "photo_turn_attempts": len(attacks), "tilt_tracks": len(tilts)},
    }
    _plot_planarity(rt, pt, BLINK_RUNS / "planarity.png")
    return rep


def _verdicts(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    judged = [a for a in attempts if a["turned"] >= 2]
    return {
        "attempts": len(attempts),
        "judged (>=2 turned frames)": len(judged),
        "planar_verdicts": sum(a["planar"] for a in attempts),
        "planar_share_of_judged": round(sum(a["planar"] for a in judged) / len(judged), 4) if judged else None,
    }


def _plot_planarity(real: list[dict[str, Any]], photo: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter([p["sim"] for p in real], [p["unexplained"] for p in real], s=4, alpha=0.4, label="live head, turned >= 15 deg")
    ax.scatter([p["sim"] for p in photo], [p["unexplained"] for p in photo], s=8, alpha=0.7, label="photo warped in 3-D, read as turned")
    ax.axhline(MotionSettings().max_unexplained, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("similarity residual (IOD)")
    ax.set_ylabel("unexplained share (homography / similarity residual)")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


# --- perceptual hash ------------------------------------------------------------------------


DUPLICATE_KINDS = ("requality", "noise3", "rescale2pct", "shift1px")


def _variants(rgb: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The same frame re-sent: another JPEG quality; +-3 grey levels of noise; rescaled by 2 %;
    and (an evasion, not a re-send) shifted by one pixel."""
    shift = np.array([[1, 0, 1], [0, 1, 0]], np.float32)
    return {
        "requality": decode_rgb(encode_jpeg(rgb, int(rng.choice([60, 70, 80, 90, 95])))),
        "noise3": decode_rgb(encode_jpeg(np.clip(rgb.astype(np.int16) + rng.integers(-3, 4, rgb.shape), 0, 255).astype(np.uint8), 85)),
        "rescale2pct": decode_rgb(encode_jpeg(_rescale(rgb, 0.98), 85)),
        "shift1px": decode_rgb(encode_jpeg(cv2.warpAffine(rgb, shift, (rgb.shape[1], rgb.shape[0]), borderMode=cv2.BORDER_REPLICATE), 85)),
    }


def phash_report(span: float = 12.0) -> dict[str, Any]:
    """Nearest earlier frame of each live client frame vs re-sent copies (see the module doc)."""
    rng = np.random.default_rng(5)
    live: list[tuple[int, int, float]] = []  # (phash, dhash, fingerprint) of the nearest earlier frame
    per_clip: dict[str, list[float]] = {}
    identical_source = 0
    dup: dict[str, list[tuple[int, int, float]]] = {k: [] for k in DUPLICATE_KINDS}
    for name in LIVE_VIDEOS:
        track = ensure([name])[0]
        raw = [bgr for _t, bgr in video_frames(SHARED_VIDEOS / name)]
        frames = [browser_jpeg(bgr) for bgr in raw]
        for fps in (4.0, 6.0, 8.0, 10.0):
            for _ in range(3):
                start = float(rng.uniform(track.t[0], max(track.t[0], track.t[-1] - span)))
                idx = sampled_indices(track, fps, rng, start, span)
                hashes = [frame_hash(decode_rgb(frames[i])) for i in idx]
                for j in range(1, len(idx)):
                    # The clips repeat some decoded frames (variable-rate sources): a webcam does not.
                    earlier = [k for k in range(j) if not np.array_equal(raw[idx[j]], raw[idx[k]])]
                    identical_source += len(earlier) < j
                    if not earlier:
                        continue
                    cand = [
                        (
                            hamming(hashes[j].phash, hashes[k].phash),
                            hamming(hashes[j].dhash, hashes[k].dhash),
                            fingerprint_distance(hashes[j].fingerprint, hashes[k].fingerprint),
                        )
                        for k in earlier
                    ]
                    live.append(min(cand, key=lambda c: c[2]))
                    per_clip.setdefault(name, []).append(min(c[2] for c in cand))
        for i in rng.choice(len(frames), size=min(25, len(frames)), replace=False):
            rgb = decode_rgb(frames[i])
            original = frame_hash(rgb)
            for kind, img in _variants(rgb, rng).items():
                h = frame_hash(img)
                dup[kind].append(
                    (
                        hamming(original.phash, h.phash),
                        hamming(original.dhash, h.dhash),
                        fingerprint_distance(original.fingerprint, h.fingerprint),
                    )
                )
    stand = _photo_stand_pairs(rng)
    rep: dict[str, Any] = {
        "live_nearest_earlier": {
            "phash": q([c[0] for c in live]),
            "dhash": q([c[1] for c in live]),
            "fingerprint": q([c[2] for c in live]),
        },
        "live_fingerprint_per_clip": {n: q(v) for n, v in per_clip.items()},
        "live_pairs_with_identical_source_frames_skipped": identical_source,
        "duplicates": {
            k: {"phash": q([c[0] for c in v]), "dhash": q([c[1] for c in v]), "fingerprint": q([c[2] for c in v])} for k, v in dup.items()
        },
        "photo_on_stand": {"phash": q([c[0] for c in stand]), "dhash": q([c[1] for c in stand]), "fingerprint": q([c[2] for c in stand])},
    }

    def flagged(rows: list[tuple[int, int, float]], tp: int, td: int, tf: float) -> float:
        return round(float(np.mean([a <= tp and b <= td and c <= tf for a, b, c in rows])), 4) if rows else float("nan")

    resent = [c for k in ("requality", "noise3", "rescale2pct") for c in dup[k]]
    rep["hash_only_flag_rates"] = {
        f"phash<={tp},dhash<={td}": {"live": flagged(live, tp, td, np.inf), "resent": flagged(resent, tp, td, np.inf)}
        for tp, td in ((0, 0), (2, 2), (4, 4), (8, 8))
    }
    rep["flag_rates_at_hash<=8,8"] = {
        f"fingerprint<={tf}": {
            "live": flagged(live, 8, 8, tf),
            "resent": flagged(resent, 8, 8, tf),
            **{k: flagged(v, 8, 8, tf) for k, v in dup.items()},
            "photo_on_stand": flagged(stand, 8, 8, tf),
        }
        for tf in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.75, 1.0)
    }
    rep["margin"] = {
        "live_min_fingerprint": round(min(c[2] for c in live), 3),
        "resent_p50_fingerprint": round(float(np.median([c[2] for c in resent])), 3),
        "resent_max_fingerprint": round(max(c[2] for c in resent), 3),
    }
    return rep


def _photo_stand_pairs(rng: np.random.Generator) -> list[tuple[int, int, float]]:
    """A photo on a stand filmed by a webcam: the same picture plus fresh sensor noise each frame."""
    out = []
    for _name, base in photo_sources(per_person=1)[:20]:
        hashes = [frame_hash(jpeg_roundtrip(camera_noise(base, rng, 2.5, float(rng.normal(1, 0.01))))) for _ in range(8)]
        for h in hashes[1:]:
            out.append(
                (
                    hamming(h.phash, hashes[0].phash),
                    hamming(h.dhash, hashes[0].dhash),
                    fingerprint_distance(h.fingerprint, hashes[0].fingerprint),
                )
            )
    return out


def _rescale(rgb: np.ndarray, f: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


# --- track continuity and stillness ----------------------------------------------------------


def track_report() -> dict[str, Any]:
    rng = np.random.default_rng(6)
    shifts, scales, speeds, fails = [], [], [], 0
    total = 0
    tracks = ensure(LIVE_VIDEOS)
    for tr in tracks:
        for fps in (4.0, 5.0, 6.0, 8.0, 10.0):
            for _ in range(5):
                idx = sampled_indices(tr, fps, rng)
                for a, b in itertools.pairwise(idx):
                    dt = float(tr.t[b] - tr.t[a])
                    chk = same_face_track(tr.landmarks[a], tr.landmarks[b], dt, tuple(tr.boxes[a]), tuple(tr.boxes[b]))
                    shifts.append(chk.shift)
                    scales.append(chk.scale_change)
                    speeds.append(chk.shift / max(dt, 1e-3))
                    fails += int(not chk.same)
                    total += 1
    # Different faces at the same time: pair frames of two different clips (a swap).
    swap_same = 0
    swap_total = 0
    for _ in range(2000):
        a, b = rng.choice(len(tracks), 2, replace=False)
        ia = rng.choice(np.flatnonzero(tracks[a].has_face))
        ib = rng.choice(np.flatnonzero(tracks[b].has_face))
        if tracks[a].size != tracks[b].size:
            continue
        chk = same_face_track(tracks[a].landmarks[ia], tracks[b].landmarks[ib], 0.2)
        swap_same += int(chk.same)
        swap_total += 1
    return {
        "live_shift_iod": q(shifts),
        "live_speed_iod_per_s": q(speeds),
        "live_scale_change": q(scales),
        "live_pairs": total,
        "live_rejected_share": round(fails / max(1, total), 5),
        "swap_between_clips_accepted_share": round(swap_same / max(1, swap_total), 4),
        "swap_pairs": swap_total,
    }


def stillness_report() -> dict[str, Any]:
    """Frame-to-frame rigid landmark motion (IOD): live clips vs photo tracks, at client rates.

    Measured to decide whether "the face never moves" can flag a photo: it cannot (see the
    overlap in the report), because sensor noise alone makes dlib's landmarks jitter.
    """
    rng = np.random.default_rng(7)

    def mean_steps(tracks: list[Track]) -> list[float]:
        out = []
        for tr in tracks:
            yaw = tr.head_angles()[0]
            for fps in (4.0, 6.0, 8.0):
                idx = sampled_indices(tr, fps, rng, span=10.0)
                if len(idx) < 5:
                    continue
                s: MotionSummary | None = None
                for i in idx:
                    s = update_motion(s, tr.landmarks[i], float(yaw[i]))
                assert s is not None
                out.append(s.mean_step)
        return out

    photos = load_all(("frtest", "sivakumar", "5celeb", "deepface", "willydev"), STILLS_DIR)
    return {
        "attempt_mean_step_iod": {
            "live": q(mean_steps(ensure(LIVE_VIDEOS))),
            "photo_still": q(mean_steps([t for t in photos if t.name.endswith("still")])),
            "photo_handheld": q(mean_steps([t for t in photos if t.name.endswith("handheld")])),
        }
    }


# --- per-frame cost -----------------------------------------------------------------------------


def cost_report(repeat: int = 50) -> dict[str, Any]:
    from ml.studies.flow import flow_planarity
    from webapp.challenge.blink import BlinkDetector, gaps
    from webapp.challenge.motion import TimingStats, update_timing

    engine = FaceEngine()
    track = ensure(["sivakumar/Jaya.mp4"])[0]
    frames = [decode_rgb(browser_jpeg(bgr)) for _t, bgr in video_frames(SHARED_VIDEOS / "sivakumar/Jaya.mp4")][:60]
    rgb, rgb2 = frames[10], frames[14]
    box = engine.detect(rgb)[0]
    lm, lm2 = track.landmarks[10], track.landmarks[14]
    grey, grey2 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.cvtColor(rgb2, cv2.COLOR_RGB2GRAY)
    ears = track.ears()[:8].tolist()
    dts = gaps(track.t[:8].tolist())
    detector = BlinkDetector.load()
    motion = update_motion(None, lm, 0.0)
    cases: dict[str, Callable[[], object]] = {
        "blink_probability (features + onnx)": lambda: detector.probability(ears, dts, 0.34),
        "planarity (landmarks, similarity + homography)": lambda: planarity(lm, lm2),
        "update_motion (state dict round trip)": lambda: update_motion(motion, lm2, 5.0),
        "flow_planarity (LK on 480x360, face box)": lambda: flow_planarity(grey, grey2, box.as_list()),  # type: ignore[arg-type]
        "frame_hash (pHash + dHash + block fingerprint, whole frame)": lambda: frame_hash(rgb),
        "same_face_track": lambda: same_face_track(lm, lm2, 0.2),
        "update_timing": lambda: update_timing(TimingStats(frames=3, last_t=1.0, min_gap=0.2, mean_gap=0.2, m2=0.0, fast=0), 1.2),
        "reference: dlib HOG detect": lambda: engine.detect(rgb),
    }
    out = {}
    for name, fn in cases.items():
        fn()
        times = []
        for _ in range(repeat if "dlib" not in name else 15):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = round(float(np.median(times)), 3)
    return {"median_ms": out}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["planarity", "phash", "track", "stillness", "cost"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    fn = {"planarity": planarity_report, "phash": phash_report, "track": track_report, "stillness": stillness_report, "cost": cost_report}[
        args.what
    ]
    rep = fn()
    path = args.json or BLINK_RUNS / f"{args.what}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep, indent=1))
    print(json.dumps(rep, indent=1))
    print(f"written {path}")


if __name__ == "__main__":
    main()

"""Calibrate the screen-light step (webapp/challenge/screenlight.py) on a physical simulation.

    python -m ml.studies.screenlight [--live-sessions 150] [--attack-sessions 40] [--workers 2]

Real live frames (every live clip of ../shared/datasets/videos, about 15 fps, scaled to the
page's 480 px; face box and 68 landmarks from the service's FaceEngine, cached under
.cache/ml/studies/screenlight/) get the screen's light rendered onto them, and go through the
server's own code: the plan is drawn by ``draw_plan`` (CSPRNG), told answer by answer with
``tell`` at the server time of each answer, measured by ``measure`` and judged by ``evaluate``.

Physics, per channel, in linear light (sRGB decoded):
    pixel' = pixel * (1 + r * k(x) * (M @ s(t)))
``pixel`` is albedo x ambient illuminance (the real frame), so the screen's extra light is the
same albedo times the screen's illuminance, and ``r`` = screen (white) / ambient illuminance on
the face is the one strength swept. ``s(t)`` is the backdrop colour on the page at the moment the
camera saw the scene (the 300 ms CSS fade included), ``M`` the crosstalk of screen primaries
into camera channels, ``k(x)`` 1 at the centre of the face falling to 0.6 at its edge (the screen
faces the user), 0.5 on the neck and chest, and ``U(0, 0.1)`` on the background (a wall 1-3 m
behind gets (0.5/2)^2 of it). The camera: auto-exposure towards a mean level (time constant
0.3-1 s) with a slow random drift of +-5 %, grey-world white balance (1-3 s) with +-3 % drift,
shot and read noise, 8-bit quantisation and the browser's JPEG q85.

Timing, per frame: the server answers 130-250 ms after the frame arrived (it tells the colour
then), the answer reaches the page 10-60 ms later and the page starts its fade; the next frame is
grabbed once the page's 120 ms interval is over plus up to 33 ms (a fresh camera frame), shows
the scene 50-120 ms before the grab (camera latency) and arrives 20-80 ms after it.

Attacks: ``replay`` (a recording: the live frames, no response) and ``slideshow`` (stills of the
clip held 1-2.5 s, jittered), each also ``*_tint`` (the whole picture, background included,
tinted by r x the colour: the attacker's screen reflecting the page); ``delayed`` (a live-like
response 1-2 s late: a relay re-rendering what the page shows) and ``foreign`` (a response to
another attempt's sequence: a recording of an earlier session with the light check).

Writes ml/docs/screenlight.json (the figures) and ml/docs/screenlight.png (the curve).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ml.blink.frames import video_frames
from ml.blink.paths import LIVE_VIDEOS, SHARED_VIDEOS
from ml.paths import CACHE_DIR, REPO_ROOT
from webapp.challenge import screenlight as sl

STUDY_CACHE = CACHE_DIR / "studies" / "screenlight"
DOCS = REPO_ROOT / "ml" / "docs"
SIDE = 480
SAMPLE_FPS = 15.0
STRENGTHS = (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.4)
ATTACKS_SWEPT = ("replay_tint", "slideshow_tint", "delayed", "foreign")
ATTACKS_FLAT = ("replay", "slideshow")  # no response at all: independent of r
# Screen primaries (columns R, G, B) as seen by the camera's channels (rows); rows sum to 1, so
# white lights every channel fully. Typical sRGB-ish panel vs a Bayer sensor's overlap.
CROSSTALK = np.array([[0.80, 0.15, 0.05], [0.12, 0.76, 0.12], [0.04, 0.16, 0.80]])


def reflection_ratio(lux: float, luminance: float, area_m2: float, distance_m: float, fill: float) -> float:
    """Screen (white) / ambient illuminance on a face facing the screen: a Lambertian panel of
    ``luminance`` cd/m2 and ``area_m2`` at ``distance_m`` gives about L * A / d^2 lux on axis;
    ``fill`` is the share of the screen the page colours (the camera view and card excluded)."""
    return luminance * area_m2 * fill / distance_m**2 / lux


# Realistic conditions (14" laptop 0.07 m2, 6" phone 0.009 m2; the page fills about 70 % of a
# laptop screen and 60 % of a phone's around the camera view).
CONDITIONS = {
    "1000 lux, laptop 200 cd/m2 at 0.6 m (weakest)": reflection_ratio(1000, 200, 0.07, 0.6, 0.7),
    "1000 lux, laptop 300 cd/m2 at 0.5 m": reflection_ratio(1000, 300, 0.07, 0.5, 0.7),
    "1000 lux, phone 500 cd/m2 at 0.3 m": reflection_ratio(1000, 500, 0.009, 0.3, 0.6),
    "300 lux, laptop 300 cd/m2 at 0.5 m (office)": reflection_ratio(300, 300, 0.07, 0.5, 0.7),
    "100 lux, laptop 300 cd/m2 at 0.4 m (dim room)": reflection_ratio(100, 300, 0.07, 0.4, 0.7),
}
WEAKEST = CONDITIONS["1000 lux, laptop 200 cd/m2 at 0.6 m (weakest)"]

_LIN = sl._LINEAR  # sRGB -> linear lookup the service uses


# --- source frames ---------------------------------------------------------------------------------


@dataclass
class Clip:
    name: str
    times: np.ndarray  # seconds
    jpegs: list[bytes]  # q95 at 480 px
    boxes: list[list[int] | None]
    landmarks: list[np.ndarray | None]

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def steady_starts(self, length: float = 8.0, share: float = 0.9) -> list[float]:
        """Start times of ``length``-second windows with a face in at least ``share`` of the
        frames: the user is asked to keep still and look at the screen, and the clips (not
        login sessions) also hold long stretches turned away, which say nothing about the light."""
        found = np.array([b is not None for b in self.boxes])
        starts = []
        for t0 in np.arange(0.0, max(0.0, self.duration - length) + 1e-9, 0.25):
            inside = (self.times >= t0) & (self.times < t0 + length)
            if inside.any() and found[inside].mean() >= share:
                starts.append(float(t0))
        return starts


def load_clip(name: str, force: bool = False) -> Clip:
    """Frames at about 15 fps, 480 px, with the service engine's face (cached)."""
    cache = STUDY_CACHE / (name.replace("/", "__") + ".npz")
    if cache.exists() and not force:
        z = np.load(cache, allow_pickle=False)
        boxes = [None if b[0] < 0 else [int(v) for v in b] for b in z["boxes"]]
        lms = [None if b is None else z["landmarks"][i] for i, b in enumerate(boxes)]
        jpegs = [bytes(z["jpeg"][z["offsets"][i] : z["offsets"][i + 1]]) for i in range(len(boxes))]
        return Clip(name, z["times"], jpegs, boxes, lms)
    from webapp.face import FaceEngine

    engine = FaceEngine()
    times, jpegs, boxes, lms = [], [], [], []
    next_t = 0.0
    for t, bgr in video_frames(SHARED_VIDEOS / name):
        if t + 1e-6 < next_t:
            continue
        next_t = t + 1.0 / SAMPLE_FPS
        h, w = bgr.shape[:2]
        scale = SIDE / max(h, w)
        if scale < 1:
            bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        found = engine.detect(rgb)
        box = max(found, key=lambda b: b.area) if found else None
        times.append(t)
        jpegs.append(bytes(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()))
        boxes.append(box.as_list() if box else None)
        lms.append(engine.observe(rgb, box, encode=False).landmarks if box else None)
    STUDY_CACHE.mkdir(parents=True, exist_ok=True)
    offsets = np.cumsum([0] + [len(j) for j in jpegs])
    np.savez(
        cache,
        times=np.array(times),
        jpeg=np.frombuffer(b"".join(jpegs), np.uint8),
        offsets=offsets,
        boxes=np.array([b or [-1, -1, -1, -1] for b in boxes]),
        landmarks=np.array([m if m is not None else np.zeros((68, 2), np.float32) for m in lms]),
    )
    return Clip(name, np.array(times), jpegs, boxes, lms)


# --- rendering -------------------------------------------------------------------------------------


def light_map(shape: tuple[int, int], box: list[int], landmarks: np.ndarray, bg_k: float) -> np.ndarray:
    """k(x): how much of the screen's light each pixel receives, relative to the face centre."""
    h, w = shape
    q = 4  # computed on a quarter grid (a smooth map), then resized
    yy, xx = (np.mgrid[0:h:q, 0:w:q] + q / 2).astype(np.float32)
    cx, cy = landmarks[:, 0].mean(), landmarks[:, 1].mean()
    rx = max(8.0, float(np.ptp(landmarks[:, 0])) * 0.6)
    ry = max(8.0, float(np.ptp(landmarks[:, 1])) * 0.75)
    d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    face = np.clip(1.0 - 0.4 * d, 0.6, 1.0) * (d <= 1.15)
    x0, _, x1, y1 = box
    bw = x1 - x0
    body = (yy > y1) & (np.abs(xx - (x0 + x1) / 2) < 1.4 * bw)
    k = np.full(yy.shape, bg_k, np.float32)
    k[body] = 0.5
    k = np.maximum(k, face.astype(np.float32))
    return cv2.resize(cv2.GaussianBlur(k, (0, 0), 0.75), (w, h), interpolation=cv2.INTER_LINEAR)


class Camera:
    """Auto-exposure and grey-world white balance with slow drifts, noise, 8 bits."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tau_ae = rng.uniform(0.3, 1.0)
        self.tau_awb = rng.uniform(1.0, 3.0)
        self.gain: float | None = None
        self.wb: np.ndarray | None = None
        self.ref_mean = 0.0
        self.ref_chroma = np.ones(3)
        self.t = 0.0
        self.drift_phase = rng.uniform(0, 2 * math.pi, 4)
        self.drift_period = rng.uniform(3.0, 9.0, 4)
        self.shot = rng.uniform(0.0005, 0.002)
        self.read = rng.uniform(0.001, 0.003)

    def expose(self, lin: np.ndarray, t: float, noise: np.ndarray) -> np.ndarray:
        means = np.array(cv2.mean(lin)[:3])
        if self.gain is None:
            self.ref_mean, self.ref_chroma = float(means.mean()), means / means.mean()
            self.gain, self.wb = 1.0, np.ones(3)
        assert self.wb is not None
        dt = max(0.0, t - self.t)
        self.t = t
        a_ae, a_wb = 1 - math.exp(-dt / self.tau_ae), 1 - math.exp(-dt / self.tau_awb)
        self.gain += a_ae * (self.ref_mean / max(float(means.mean()), 1e-4) - self.gain)
        self.wb = self.wb + a_wb * (self.ref_chroma / np.maximum(means / max(float(means.mean()), 1e-4), 1e-4) - self.wb)
        drift = 1 + 0.05 * math.sin(2 * math.pi * t / self.drift_period[0] + self.drift_phase[0])
        wb_drift = 1 + 0.03 * np.sin(2 * math.pi * t / self.drift_period[1:] + self.drift_phase[1:])
        out = lin * (self.gain * drift * self.wb * wb_drift).astype(np.float32)
        sigma = cv2.sqrt(np.float32(self.shot) * np.clip(out, 0, 1) + np.float32(self.read**2))
        out = out + sigma * noise
        return np.clip(out, 0.0, 1.0)


def browser_round_trip(rgb: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    back = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert back is not None
    return cv2.cvtColor(back, cv2.COLOR_BGR2RGB)


# --- one simulated step ------------------------------------------------------------------------------


class Page:
    """What the page shows: the told colours, each applied when its answer arrives, faded in."""

    def __init__(self, transition: float) -> None:
        self.events: list[tuple[float, np.ndarray]] = [(-1e9, np.zeros(3))]  # before the step: no backdrop
        self.transition = transition

    def apply(self, at: float, colour: np.ndarray) -> None:
        self.events.append((at, colour))

    def colour(self, t: float) -> np.ndarray:
        prev, cur, start = self.events[0][1], self.events[0][1], -1e9
        for at, c in self.events:
            if at <= t:
                prev, cur, start = cur, c, at
        f = 1.0 if self.transition <= 0 else min(1.0, (t - start) / self.transition)
        return (1 - f) * prev + f * cur


def _rgb01(name: str) -> np.ndarray:
    return np.array(sl.PALETTE[name], np.float64) / 255.0


def simulate(clip: Clip, kind: str, r: float, seed: int, cfg: sl.LightSettings, noise_bank: np.ndarray) -> dict[str, Any]:
    """One screen-light step of a live user (kind 'live') or an attack; the server's verdict."""
    rng = np.random.default_rng(seed)
    plan = sl.draw_plan(cfg)
    foreign_plan = sl.draw_plan(cfg) if kind == "foreign" else None
    page, foreign_page = Page(cfg.transition_ms / 1000), Page(cfg.transition_ms / 1000)
    camera = Camera(rng)
    bg_k = rng.uniform(0.0, 0.1)
    delay = rng.uniform(1.0, 2.0) if kind == "delayed" else 0.0
    starts = clip.steady_starts() or [0.0]
    clip_offset = float(rng.choice(starts)) + rng.uniform(0.0, 0.25)
    hold_until, hold_t = -1.0, 0.0
    server_t = 5.0  # the step starts 5 s into the attempt
    grab = server_t - 0.2
    face_frames = 0
    end: float | None = None
    while end is None or server_t < end:
        # the frame grabbed at `grab` shows the scene camera-latency earlier
        scene_t = grab - rng.uniform(0.05, 0.12)
        clip_t = _pingpong(scene_t - 5.0 + 0.2 + clip_offset, clip.duration)
        if kind.startswith("slideshow"):
            if scene_t >= hold_until:
                hold_t, hold_until = rng.uniform(0, clip.duration), scene_t + rng.uniform(1.0, 2.5)
            clip_t = hold_t
        i = int(np.argmin(np.abs(clip.times - clip_t)))
        sample = None
        if clip.boxes[i] is not None:
            bgr = cv2.imdecode(np.frombuffer(clip.jpegs[i], np.uint8), cv2.IMREAD_COLOR)
            assert bgr is not None
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if kind.startswith("slideshow"):  # a still jittered: 1-px shifts
                rgb = np.roll(rgb, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1))
            lin = _LIN[rgb]
            box, lms = clip.boxes[i], clip.landmarks[i]
            assert box is not None and lms is not None
            if kind in ("live", "delayed", "foreign"):
                src = foreign_page if kind == "foreign" else page
                s = CROSSTALK @ src.colour(scene_t - delay)
                lin = lin * (1 + r * light_map(lin.shape[:2], box, lms, bg_k)[..., None] * s.astype(np.float32)).astype(np.float32)
            elif kind.endswith("_tint"):
                lin = lin * (1 + r * CROSSTALK @ page.colour(scene_t)).astype(np.float32)
            h, w = lin.shape[:2]
            noise = noise_bank[int(rng.integers(len(noise_bank)))][:h, :w]
            seen = browser_round_trip(sl.to_srgb8(camera.expose(lin, scene_t, noise)))
            sample = sl.measure(seen, box, lms)
            face_frames += 1
        # the frame arrives; the server records it, judges once the sequence has played, answers
        arrival = grab + rng.uniform(0.01, 0.02) + rng.uniform(0.02, 0.08)
        server_t = arrival
        if sample is not None and plan["told"]:
            sl.record(plan, arrival, sample)
        end = sl.sequence_end(plan)
        if end is not None and arrival >= end:
            break
        done = arrival + rng.uniform(0.13, 0.25)
        sl.tell(plan, done)
        told = plan["told"][-1]
        answer = done + rng.uniform(0.01, 0.06)
        if page.events[-1][0] < told[0]:
            page.apply(answer, _rgb01(plan["colours"][told[1]]))
        if foreign_plan is not None:  # the earlier session's page, on its own clock
            sl.tell(foreign_plan, done)
            ft = foreign_plan["told"][-1]
            if foreign_page.events[-1][0] < ft[0]:
                foreign_page.apply(answer, _rgb01(foreign_plan["colours"][ft[1]]))
        grab = max(answer, grab + 0.12) + rng.uniform(0.0, 0.033)
    result = sl.evaluate(plan, cfg)
    return {
        "kind": kind,
        "r": r,
        "clip": clip.name,
        "code": result.code,
        "passed": result.passed,
        "face_frames": face_frames,
        **result.audit(),
    }


def _pingpong(t: float, length: float) -> float:
    period = 2 * length
    t = t % period
    return t if t <= length else period - t


# --- the sweep ---------------------------------------------------------------------------------------

_CLIPS: list[Clip] = []
_BANK: np.ndarray | None = None


def _init(names: list[str]) -> None:
    global _BANK
    _CLIPS[:] = [load_clip(n) for n in names]
    _BANK = np.random.default_rng(99).standard_normal((6, SIDE, SIDE, 3)).astype(np.float32)


def _job(args: tuple[int, str, float, int]) -> dict[str, Any]:
    clip_index, kind, r, seed = args
    assert _BANK is not None
    return simulate(_CLIPS[clip_index], kind, r, seed, sl.LightSettings(), _BANK)


def run(live_sessions: int, attack_sessions: int, workers: int, seed: int) -> dict[str, Any]:
    names = list(LIVE_VIDEOS)
    clips = [load_clip(n) for n in names]  # builds the cache once, in this process
    usable = [i for i, c in enumerate(clips) if c.steady_starts()]
    rng = np.random.default_rng(seed)
    jobs: list[tuple[int, str, float, int]] = []
    decision_r = min(r for r in STRENGTHS if r >= WEAKEST - 1e-9)
    for r in STRENGTHS:
        n_live = live_sessions * (3 if r == decision_r else 1)  # the decision rests on this one
        jobs += [(int(rng.choice(usable)), "live", r, int(rng.integers(2**31))) for _ in range(n_live)]
        for kind in ATTACKS_SWEPT:
            jobs += [(int(rng.choice(usable)), kind, r, int(rng.integers(2**31))) for _ in range(attack_sessions)]
    for kind in ATTACKS_FLAT:
        jobs += [(int(rng.choice(usable)), kind, 0.0, int(rng.integers(2**31))) for _ in range(attack_sessions * 3)]
    started = time.time()
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(names,)) as pool:
        sessions = list(pool.map(_job, jobs, chunksize=8))
    levels = [s["level"] for s in sessions if s["kind"] == "live"]
    return {
        "sessions": sessions,
        "seconds": round(time.time() - started, 1),
        "clips": [clips[i].name for i in usable],
        "conditions": {k: round(v, 4) for k, v in CONDITIONS.items()},
        "live_skin_level": {
            "p5": float(np.percentile(levels, 5)),
            "p50": float(np.median(levels)),
            "p95": float(np.percentile(levels, 95)),
        },
    }


SWEEP = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def passes_at(s: dict[str, Any], min_correlation: float, cfg: sl.LightSettings) -> bool:
    """The step's decision for a session at another LIGHT_MIN_CORRELATION (the best lag does not
    depend on it; ``evaluate`` applies exactly these rules)."""
    if s["code"] == sl.TOO_FEW_FRAMES:
        return False
    tint = s["face_correlation"] >= min_correlation and s["response"] < cfg.min_own_share * s["face_response"]
    return s["correlation"] >= min_correlation and not tint and s["response"] >= cfg.min_response


def threshold_sweep(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """Live false rejects per strength and attacks accepted (pooled over strengths) per threshold."""
    cfg = sl.LightSettings()
    out: dict[str, Any] = {}
    for thr in SWEEP:
        live = {
            str(r): round(float(np.mean([not passes_at(s, thr, cfg) for s in sessions if s["kind"] == "live" and s["r"] == r])), 4)
            for r in STRENGTHS
        }
        attacks = {
            kind: round(float(np.mean([passes_at(s, thr, cfg) for s in sessions if s["kind"] == kind])), 4)
            for kind in (*ATTACKS_SWEPT, *ATTACKS_FLAT)
        }
        out[str(thr)] = {"live_false_rejects": live, "attacks_accepted": attacks}
    return out


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    by: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for s in raw["sessions"]:
        by.setdefault((s["kind"], s["r"]), []).append(s)
    table: dict[str, Any] = {}
    for (kind, r), rows in sorted(by.items()):
        failed = sum(not s["passed"] for s in rows)
        table.setdefault(kind, []).append(
            {
                "r": r,
                "sessions": len(rows),
                "rejected": failed,
                "rate": round(failed / len(rows), 4),
                "codes": dict(Counter(s["code"] or "pass" for s in rows)),
                "median_correlation": round(float(np.median([s["correlation"] for s in rows])), 3),
                "median_frames": float(np.median([s["frames"] for s in rows])),
            }
        )
    live = {row["r"]: row for row in table["live"]}
    weakest_grid = min(r for r in STRENGTHS if r >= WEAKEST - 1e-9)
    frr = live[weakest_grid]["rate"]
    return {
        "table": table,
        "conditions": raw["conditions"],
        "weakest_realistic_r": round(WEAKEST, 4),
        "decision_grid_r": weakest_grid,
        "live_false_rejects_at_weakest": frr,
        "default_on": frr <= 0.01,
        "live_skin_level": raw["live_skin_level"],
        "clips": raw["clips"],
        "seconds": raw["seconds"],
        "settings": asdict(sl.LightSettings()),
        "threshold_sweep": threshold_sweep(raw["sessions"]),
    }


def plot(summary: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    live = summary["table"]["live"]
    ax.plot([row["r"] for row in live], [100 * row["rate"] for row in live], "o-", color="black", lw=2, label="live: false rejects")
    for kind, colour in zip(ATTACKS_SWEPT, ("tab:red", "tab:orange", "tab:purple", "tab:brown"), strict=True):
        rows = summary["table"][kind]
        ax.plot([row["r"] for row in rows], [100 * (1 - row["rate"]) for row in rows], "s--", color=colour, label=f"{kind}: accepted")
    for kind, colour in zip(ATTACKS_FLAT, ("tab:blue", "tab:cyan"), strict=True):
        row = summary["table"][kind][0]
        ax.axhline(100 * (1 - row["rate"]), color=colour, ls=":", label=f"{kind} (no response): accepted")
    for i, (label, r) in enumerate(summary["conditions"].items()):
        ax.axvline(r, color="grey", lw=0.7, alpha=0.6)
        short = label.replace(" cd/m2", "").replace(" (weakest)", " *").split(" (")[0]
        ax.text(r, 97 - 9 * (i % 3), short, rotation=0, fontsize=6, va="top", ha="left", color="dimgrey")
    ax.set_xscale("log")
    ax.set_xlabel("reflection strength r = screen / ambient illuminance on the face")
    ax.set_ylabel("% of simulated steps")
    ax.set_ylim(-2, 100)
    ax.set_title("Screen-light step: live false rejects and attacks accepted vs strength", fontsize=10)
    ax.legend(fontsize=7, loc="center right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--live-sessions", type=int, default=150, help="live steps per strength")
    ap.add_argument("--attack-sessions", type=int, default=40, help="steps per attack and strength")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--json", type=Path, default=DOCS / "screenlight.json")
    ap.add_argument("--plot", type=Path, default=DOCS / "screenlight.png")
    ap.add_argument("--raw", type=Path, default=None, help="also write every session here (runs/...)")
    args = ap.parse_args(argv)
    raw = run(args.live_sessions, args.attack_sessions, args.workers, args.seed)
    if args.raw:
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        args.raw.write_text(json.dumps(raw))
    summary = summarise(raw)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1) + "\n")
    plot(summary, args.plot)
    for kind, rows in summary["table"].items():
        print(kind, " ".join(f"r={row['r']}:{100 * row['rate']:.1f}%" for row in rows))
    print(
        f"weakest realistic r={summary['weakest_realistic_r']} -> live false rejects {100 * summary['live_false_rejects_at_weakest']:.1f} %"
    )
    print(f"default on: {summary['default_on']}  ({raw['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Prompted logins through the HTTP API with the challenge ON: real users, slideshows, replays.

    python -m ml.studies.prompted --json runs/prompted.json [--max-challenges 3] [--max-slideshows 16]

Apps, enrollment and the attempt records come from ml/studies/attempts.py (``make_app`` with the
service's default challenge put back: CHALLENGE_STEPS blink/turn_left/turn_right, COUNT 2, every
other knob at its default, throttling off as there).

1. Real users. Every shared live video (sivakumar/*, */real*) is sampled at 8 fps and sent as the
   page would (``attempts.attempt_frames``: <= 640 px wide, JPEG q85). Each frame is analysed once
   with the service's FaceEngine (HOG box, 68 landmarks): yaw (``geometry.head_pose``) and EAR.
   :func:`turn_segments` and :func:`blink_segments` find the stretches that answer each step
   (yaw from near-neutral past 20 degrees to the subject's left (> 0) or right (< 0) and back;
   an EAR dip below 0.75 of the local open level and back). For each ordered pair of steps the
   video can answer, the service draws challenges (``POST /api/v1/login/start``) until it draws
   that pair (abandoned draws send no frame), then the attempt is played as a person answers
   prompts: wait, then act (:class:`Playback`). While the answer names no step (the baseline
   frames the steps measure against, and after the last step) the next *rest* frame is sent
   (frontal, eyes open, outside any blink: :func:`rest_frames`), from the run of rest frames
   closest before the first segment; only when the answer names step X does the clip play X's
   segment (continuing through rest frames when the segment is less than 2 s ahead, else
   jumping to it: a splice, counted) and on until the answer names another step. No frame is
   sent twice. The server clock is a camera clock by default (125 ms per frame, see
   :class:`CameraClock`; ``--wall-clock`` for this machine's real pace). The per-frame
   measurements are cached under .cache/ml/studies/prompted/. Before each attempt the earlier
   attempts' frame rows are deleted from the temporary database (a real user never sends the
   same bytes twice; the study replays the same clip).
2. Slideshows. People of ../shared/datasets/identity with >= 4 photos: each photo's yaw is measured
   on its 640x480 canvas; a frontal photo and one turned >= 20 degrees each way (natural) or one
   turned photo and its mirror image (mirror); the person is enrolled from the other photos; the
   challenge is turn_left/turn_right (COUNT 2: no blink an attacker with photos cannot answer).
   The attacker sends the frontal photo (jittered: Gaussian noise, +-1 px shifts, brightness,
   JPEG quality 70-95) until a turn is asked, the turned photo for 3 frames, then frontal again,
   and repeats the turn when asked again. Canvases: the photo filling 640x480 (full), or pasted
   at 300 px high on one constant synthetic background (composite).
3. Scrubbed replays: the replay videos (fake*) played as in 1 from their own segments.

Everything derived from the shared data stays in runs/ (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import cv2
import numpy as np

from ml.blink.frames import decode_rgb, video_frames
from ml.blink.paths import SHARED_IDENTITY, SHARED_VIDEOS
from ml.paths import CACHE_DIR, MODELS_DIR, RUNS_DIR
from ml.studies.attempts import (
    SAMPLE_FPS,
    Plan,
    Source,
    _attempt_record,
    attempt_frames,
    browser_jpeg,
    discover,
    dispose,
    enroll,
    enrollment_images,
    make_app,
    reason_of,
)
from webapp.config import DEFAULTS

STEPS_DEFAULT = ["blink", "turn_left", "turn_right"]
TURN_OUT = 20.0  # degrees from neutral a segment must reach (the service asks 18)
TURN_BACK = 8.0  # "back near the start": stricter than the service (TURN_RETURN_DEGREES 12), so a segment truly comes back
MAX_SEGMENT = 48  # frames (6 s at 8 fps): inside the 8 s step budget
NEAR_GAP = 16  # frames (2 s): a segment this close ahead is reached by playing on, not by a jump
BLINK_DIP = 0.75
BLINK_BACK = 0.9
MAX_FRAMES = 150  # ATTEMPT_MAX_FRAMES
TURN_YAW = float(DEFAULTS["TURN_YAW_DEGREES"])  # the service's turn bands, for the per-segment diagnosis
TURN_PARTIAL = float(DEFAULTS["TURN_PARTIAL_DEGREES"])
TURN_RETURN = float(DEFAULTS["TURN_RETURN_DEGREES"])
MAX_DRAWS = 60


# --- the segment finder (pure) ------------------------------------------------------------------


def neutral_yaw(yaws: Sequence[float | None]) -> float:
    """The clip's neutral yaw: median of the face frames within 10 degrees of their median."""
    v = [y for y in yaws if y is not None]
    if not v:
        return 0.0
    m = statistics.median(v)
    near = [y for y in v if abs(y - m) <= 10.0]
    return float(statistics.median(near or v))


def turn_segments(
    yaws: Sequence[float | None],
    sign: float,
    neutral: float,
    out: float = TURN_OUT,
    back: float = TURN_BACK,
    max_len: int = MAX_SEGMENT,
) -> list[tuple[int, int]]:
    """(first, last) frame indices, inclusive, of each turn to one side (``sign`` +1: the
    subject's left, -1: right): from the last near-neutral frame (within ``back`` of the clip's
    ``neutral``) before the yaw passes ``out`` degrees from the yaw there, to the first frame
    back within ``back`` of it; a frame without a face (None) on either end stops the search."""
    segs: list[tuple[int, int]] = []
    n = len(yaws)
    i = 0
    while i < n:
        y = yaws[i]
        if y is None or sign * (y - neutral) < out:
            i += 1
            continue
        a = i - 1
        while a >= 0 and yaws[a] is not None and abs(float(yaws[a]) - neutral) > back:  # type: ignore[arg-type]
            a -= 1
        if a < 0 or yaws[a] is None:
            i += 1
            continue
        ref = float(yaws[a])  # type: ignore[arg-type]
        b = i + 1
        while b < n and yaws[b] is not None and abs(float(yaws[b]) - ref) > back:  # type: ignore[arg-type]
            b += 1
        peak = max((sign * (float(v) - ref) for v in yaws[a : min(b, n - 1) + 1] if v is not None), default=0.0)
        ok = b < n and yaws[b] is not None and b - a + 1 <= max_len and peak >= out
        if ok and (not segs or a > segs[-1][1]):
            segs.append((a, b))
        i = max(b, i + 1)
    return segs


def has_intermediate(
    yaws: Sequence[float | None], seg: tuple[int, int], sign: float, base: float, lo: float = TURN_PARTIAL, hi: float = TURN_YAW
) -> bool:
    """Does the segment pass through a pose in between (TurnStep: TURN_PARTIAL..TURN_YAW)?"""
    return any(y is not None and lo <= sign * (y - base) < hi for y in yaws[seg[0] : seg[1] + 1])


def blink_segments(
    ears: Sequence[float | None], dip: float = BLINK_DIP, back: float = BLINK_BACK, before: int = 4, after: int = 3, window: int = 8
) -> list[tuple[int, int]]:
    """(first, last) indices around each EAR dip below ``dip`` x the local open level (the
    largest EAR within ``window`` frames) that comes back above ``back`` x it within 3 frames."""
    segs: list[tuple[int, int]] = []
    n = len(ears)
    for k in range(n):
        e = ears[k]
        if e is None:
            continue
        lo, hi = max(0, k - window), min(n, k + window + 1)
        local = [x for x in ears[lo:hi] if x is not None]
        open_level = max(local)
        if e >= dip * open_level:
            continue
        prev = ears[k - 1] if k > 0 else None
        if prev is not None and prev < e:
            continue  # not the bottom of the dip
        if not any(x is not None and x >= back * open_level for x in ears[k + 1 : k + 4]):
            continue
        a, b = max(0, k - before), min(n - 1, k + after)
        if any(x is None for x in ears[a : b + 1]):
            continue
        if not segs or a > segs[-1][1]:
            segs.append((a, b))
    return segs


BLINK_MAX_YAW = 15.0  # degrees from neutral: a turned face's eye ratio dips without a blink


def frontal_blinks(
    segs: list[tuple[int, int]], yaws: Sequence[float | None], neutral: float, max_yaw: float = BLINK_MAX_YAW
) -> list[tuple[int, int]]:
    """The blink segments whose every frame faces the camera: near profile, the eye aspect ratio
    falls with foreshortening alone (tranvanluyt's "blink" at 37-72 degrees was a turn)."""
    return [(a, b) for a, b in segs if all(y is not None and abs(float(y) - neutral) <= max_yaw for y in yaws[a : b + 1])]


def find_segments(yaws: Sequence[float | None], ears: Sequence[float | None]) -> dict[str, list[tuple[int, int]]]:
    neutral = neutral_yaw(yaws)
    return {
        "blink": frontal_blinks(blink_segments(ears), yaws, neutral),
        "turn_left": turn_segments(yaws, 1.0, neutral),
        "turn_right": turn_segments(yaws, -1.0, neutral),
    }


# --- per-frame analysis ----------------------------------------------------------------------------


@dataclass
class Clip:
    source: Source
    frames: list[tuple[float, bytes]]
    faces: list[int] = field(default_factory=list)
    yaws: list[float | None] = field(default_factory=list)
    ears: list[float | None] = field(default_factory=list)
    # The video's frames between the sampled ones (time, JPEG as sent): a slow retry's material.
    between: list[tuple[float, bytes]] = field(default_factory=list)


def measure(engine: Any, rgb: np.ndarray) -> tuple[int, float | None, float | None]:
    """(faces, yaw, EAR) of one RGB image as the service measures them (largest face)."""
    from webapp.challenge.geometry import eye_aspect_ratio, head_pose

    boxes = engine.detect(rgb)
    if len(boxes) != 1:
        return len(boxes), None, None
    obs = engine.observe(rgb, boxes[0], encode=False)
    return 1, head_pose(obs.landmarks, rgb.shape[:2]).yaw, eye_aspect_ratio(obs.landmarks)


STUDY_CACHE = CACHE_DIR / "studies" / "prompted"


def analyse_clip(engine: Any, src: Source, videos: Path) -> Clip:
    """The clip's frames as sent, and each one's (faces, yaw, EAR). The measurements are cached
    under ``.cache/ml/studies/prompted/`` keyed by the bytes sent (the sampling and encoding of
    ``attempt_frames``), so a rerun re-analyses only what changed."""
    clip = Clip(src, attempt_frames(videos / src.video))
    sampled = {round(t, 6) for t, _d in clip.frames}
    clip.between = [(t, browser_jpeg(bgr)) for t, bgr in video_frames(videos / src.video) if round(t, 6) not in sampled]
    digest = hashlib.sha256(b"".join(hashlib.sha256(data).digest() for _t, data in clip.frames)).hexdigest()[:16]
    path = STUDY_CACHE / f"{src.video.replace('/', '__')}.{digest}.json"
    if path.exists():
        cached = json.loads(path.read_text())
        clip.faces, clip.yaws, clip.ears = cached["faces"], cached["yaws"], cached["ears"]
        return clip
    for _t, data in clip.frames:
        faces, yaw, ear = measure(engine, decode_rgb(data))
        clip.faces.append(faces)
        clip.yaws.append(None if yaw is None else float(yaw))
        clip.ears.append(None if ear is None else float(ear))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"faces": clip.faces, "yaws": clip.yaws, "ears": clip.ears}))
    return clip


# --- the app with the challenge on ------------------------------------------------------------------


@contextlib.contextmanager
def challenge_on(overrides: dict[str, Any] | None = None) -> Iterator[None]:
    """``attempts.make_app`` builds a passive-only app; this puts the service's default challenge
    back (its CHALLENGE_STEPS removed, ``overrides`` added) while it runs."""
    import webapp

    real = webapp.create_app

    def patched(config: dict[str, Any] | None = None) -> Any:
        cfg = dict(config or {})
        cfg.pop("CHALLENGE_STEPS", None)
        cfg.update(overrides or {})
        return real(cfg)

    with mock.patch.object(webapp, "create_app", patched):
        yield


def build_app(workdir: Path, models_dir: Path, overrides: dict[str, Any] | None = None) -> Any:
    with challenge_on(overrides):
        return make_app(workdir, models_dir)


def forget_frames(app: Any) -> None:
    """Delete every stored frame of earlier attempts (a fresh user never resends bytes)."""
    import sqlalchemy as sa

    from webapp.db.extensions import db
    from webapp.db.models import AttemptFrame

    with app.app_context():
        db.session.execute(sa.delete(AttemptFrame))
        db.session.commit()


def start(client: Any, username: str, want: list[str] | None) -> tuple[str, list[str], int]:
    """Start attempts until the service draws ``want`` (None: the first draw)."""
    for draw in range(1, MAX_DRAWS + 1):
        r = client.post("/api/v1/login/start", json={"username": username})
        if r.status_code != 201:
            raise RuntimeError(f"login/start answered {r.status_code}: {r.get_data(as_text=True)[:200]}")
        body = r.get_json()
        steps = list(body["challenge"]["steps"])
        if want is None or steps == want:
            return body["attempt_id"], steps, draw
    raise RuntimeError(f"the service never drew {want} in {MAX_DRAWS} starts")


class CameraClock:
    """The server clock of a camera at the page's pace with a server that keeps up: every frame
    arrives ``interval`` seconds after the previous one, whatever this machine's load (each read
    within a request moves 1 ms, so times stay ordered). Without it a busy machine stretches
    every server-clock budget over fewer clip frames than a person's real-time movement gives."""

    def __init__(self, interval: float = 1.0 / SAMPLE_FPS) -> None:
        from webapp.db import clock

        self.interval = interval
        self.base = clock.utcnow()
        self.frames = 0
        self.reads = 0
        self._clock = clock
        self._real = clock.utcnow

    def now(self) -> Any:
        from datetime import timedelta

        self.reads += 1
        return self.base + timedelta(seconds=self.frames * self.interval + self.reads * 0.001)

    def tick(self) -> None:
        self.frames += 1
        self.reads = 0

    def __enter__(self) -> CameraClock:
        self._clock.utcnow = self.now  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        self._clock.utcnow = self._real  # type: ignore[assignment]


CAMERA: CameraClock | None = None  # set by main() unless --wall-clock


def post(client: Any, attempt_id: str, seq: int, data: bytes) -> dict[str, Any]:
    if CAMERA is not None:
        CAMERA.tick()
    form = {"frame": (io.BytesIO(data), "frame.jpg", "image/jpeg"), "seq": str(seq)}
    r = client.post(f"/api/v1/login/{attempt_id}/frames", data=form, content_type="multipart/form-data")
    answer = {"status": r.status_code, **(r.get_json() or {})}
    if r.status_code != 200:
        raise RuntimeError(f"frame {seq} answered {r.status_code}: {answer}")
    return answer


def close_attempt(client: Any, app: Any, attempt_id: str, answer: dict[str, Any]) -> dict[str, Any]:
    """Sign out of a granted attempt (the next one starts unauthenticated) and summarise it."""
    if answer.get("state") == "granted":
        client.post("/api/v1/logout")
    return summary_of(app, attempt_id)


def summary_of(app: Any, attempt_id: str) -> dict[str, Any]:
    rec = _attempt_record(app, attempt_id)
    log = rec.get("frame_log", [])
    return {
        "state": rec["state"],
        "reason": rec["reason"],
        "detail": rec["detail"],
        "outcome": reason_of(rec["state"], rec["reason"], rec["detail"]),
        "scores": rec.get("scores"),
        "server_yaws": [f["signals"].get("yaw") if f.get("faces") == 1 else None for f in log],
        "server_ears": [f["signals"].get("ear") if f.get("faces") == 1 else None for f in log],
        "received_at": [f["received_at"] for f in log],
    }


# --- 1 and 3: video attempts ----------------------------------------------------------------------


REST_YAW = 6.0  # degrees from the clip's neutral yaw: looking at the camera
REST_EAR = 0.85  # x the local open-eye level: eyes open, not closing (the finder's dip is 0.75)
OPEN_WINDOW = 8  # frames each side over which the local open-eye level is taken
OPEN_MAX_YAW = 8.0  # ... on frames this near the neutral yaw: the eye ratio grows as the head turns
MIN_REST = 12  # fewer rest frames than this: rest is any frame within 10 degrees of neutral


def rest_frames(yaws: Sequence[float | None], ears: Sequence[float | None], neutral: float) -> list[bool]:
    """Frames of a person waiting for the prompt: a face within ``REST_YAW`` of the neutral yaw
    with the eyes open (EAR >= ``REST_EAR`` x the largest EAR of the frames within
    ``OPEN_WINDOW`` that face the camera). Baselines and the pauses between steps are played
    from these, so no blink or turn is ever played before the server asked for it. A clip with
    fewer than ``MIN_REST`` of them (a replay whose landmarks jitter) rests on its frontal frames."""
    n = len(yaws)

    def frontal(i: int, limit: float) -> bool:
        y = yaws[i]
        return y is not None and abs(float(y) - neutral) <= limit

    out = []
    for i in range(n):
        e = ears[i]
        if e is None or not frontal(i, REST_YAW):
            out.append(False)
            continue
        near = range(max(0, i - OPEN_WINDOW), min(n, i + OPEN_WINDOW + 1))
        local = [float(x) for j in near if (x := ears[j]) is not None and frontal(j, OPEN_MAX_YAW)]
        out.append(float(e) >= REST_EAR * max(local))
    if sum(out) < MIN_REST:
        out = [frontal(i, 10.0) for i in range(n)]
    return out


def rest_run_before(rest: Sequence[bool], before: int, count: int = 3, search: int = 24) -> int | None:
    """Start of the ``count`` rest frames that end closest before ``before`` (searched ``search``
    frames back: the pose nearest the move, as a person's baseline is), else of the clip's first
    such run. A baseline that takes more frames goes on with the next rest frames."""

    def run_at(s: int) -> bool:
        return s >= 0 and s + count <= len(rest) and all(rest[s : s + count])

    for s in range(before - count, max(-1, before - count - search), -1):
        if run_at(s):
            return s
    for s in range(len(rest) - count + 1):
        if run_at(s):
            return s
    return None


class Playback:
    """Which clip frame a person following the prompts sends next (pure: driven by the answers).

    A person looks at the camera until a step is asked, and only then acts: while the answer
    names no step (the baseline frames the steps measure against, and after the last step) the
    next *rest* frame is sent (:func:`rest_frames`: frontal, eyes open), in clip order from the
    cursor while there are, else the unsent rest frame nearest in time; when the answer names a
    step not yet acted on, the clip jumps to that step's segment (played on without a jump when the frames up to it are
    rest frames fewer than ``near_gap`` ahead: the person waits), and then plays on through the
    segment and beyond until the answer names another step. The baseline therefore never holds
    a movement: the step's own segment starts only after the server asked for it, however many
    baseline frames that takes. Every jump is logged as a splice; no frame is sent twice
    (identical bytes would be a replay).

    "Once more, slowly" (a turn seen with no pose in between) is answered once per step as a
    person would, by turning again more slowly: ``slow[step]`` are keys (negative: -1 - j) of
    the video's frames between the sampled ones over the step's segment, at twice the sampling
    rate of clip time, so the same turn plays at half speed; then the clip plays on after the
    segment.
    """

    def __init__(
        self,
        rest: Sequence[bool],
        segments: dict[str, tuple[int, int]],
        first: str,
        near_gap: int = NEAR_GAP,
        slow: dict[str, list[int]] | None = None,
    ) -> None:
        self.rest = list(rest)
        self.segments = dict(segments)
        self.near_gap = near_gap
        self.slow = dict(slow or {})
        self.queue: list[int] = []
        self.slowed: list[str] = []  # steps retried slowly
        self.start = rest_run_before(self.rest, self.segments[first][0]) if any(self.rest) else None
        self.cursor = self.start if self.start is not None else max(0, self.segments[first][0] - 3)
        self.acting: str | None = None
        self.sent: list[int] = []
        self.splices: list[dict[str, Any]] = []
        self.waits = 0  # frames sent while no step was asked

    def _jump(self, to: int, why: str) -> None:
        if to != self.cursor:
            self.splices.append({"from": self.cursor, "to": to, "for": why})
        self.cursor = to

    def _next_rest(self) -> int | None:
        """The unsent rest frame nearest the cursor (the cursor itself when it is one): a person
        holding still longer than planned is any moment of their holding still, not the move
        that comes next in the clip."""
        sent = set(self.sent)
        free = [i for i, r in enumerate(self.rest) if r and i not in sent]
        return min(free, key=lambda i: (abs(i - self.cursor), i < self.cursor)) if free else None

    def next(self, step: str | None, prompt: str = "") -> int | None:
        """The clip index to send after an answer naming ``step`` (None before the first frame,
        during the baseline and after the last step) with ``prompt``; a negative key for a
        frame of a slow retry; None when the clip has nothing left."""
        retry = step is not None and step == self.acting and prompt.startswith("Once more")
        if retry and step not in self.slowed and self.slow.get(step or ""):
            assert step is not None
            self.slowed.append(step)
            self.queue = list(self.slow[step])
            self.splices.append({"from": self.cursor, "to": "slow retry", "for": step})
        if self.queue and step is not None and step == self.acting:
            key = self.queue.pop(0)
            if not self.queue:
                self.cursor = max(self.cursor, self.segments[step][1] + 1)  # then on after the segment
            self.sent.append(key)
            return key
        self.queue = []
        if step is not None and step != self.acting:
            self.acting = step
            a = self.segments[step][0]
            ahead = a - self.cursor
            if not (0 <= ahead <= self.near_gap and all(self.rest[self.cursor : a])):
                self._jump(a, step)
        if step is None:
            i = self._next_rest()
            if i is None:
                return None
            self.waits += 1
            self._jump(i, "wait")
        else:
            i = self.cursor
            while i in self.sent:
                i += 1
            if i >= len(self.rest):
                return None
            self._jump(i, step)
        self.sent.append(self.cursor)
        out = self.cursor
        self.cursor += 1
        return out


def plan_pair(segs: dict[str, list[tuple[int, int]]], pair: Sequence[str]) -> list[tuple[int, int]] | None:
    """A segment per step, in order of the challenge: the second after the first when possible."""
    a_list, b_list = segs[pair[0]], segs[pair[1]]
    if not a_list or not b_list:
        return None
    best: tuple[int, tuple[int, int], tuple[int, int]] | None = None
    for a in a_list:
        for b in b_list:
            gap = b[0] - a[1]
            cost = gap if gap >= 0 else 10_000 + (a[1] - b[0])  # chronological first, then least overlap
            if best is None or cost < best[0]:
                best = (cost, a, b)
    assert best is not None
    return [best[1], best[2]]


def slow_keys(clip: Clip, seg: tuple[int, int], rate: float = 2 * SAMPLE_FPS) -> list[int]:
    """Keys (-1 - j into ``clip.between``) of the unsampled frames over ``seg``'s clip time,
    at most ``rate`` a second of clip time: the segment's movement played at half speed."""
    t0, t1 = clip.frames[seg[0]][0], clip.frames[seg[1]][0]
    out, last = [], -1.0
    for j, (t, _d) in enumerate(clip.between):
        if t0 <= t <= t1 and t - last >= 1.0 / rate - 1e-3:
            out.append(-1 - j)
            last = t
    return out


def play_clip(client: Any, app: Any, username: str, clip: Clip, pair: list[str], chosen: list[tuple[int, int]]) -> dict[str, Any]:
    neutral = neutral_yaw(clip.yaws)
    attempt_id, steps, draws = start(client, username, pair)
    seg_of = dict(zip(pair, chosen, strict=True))
    rest = rest_frames(clip.yaws, clip.ears, neutral)
    slow = {k: slow_keys(clip, v) for k, v in seg_of.items() if k.startswith("turn")}
    player = Playback(rest, seg_of, pair[0], slow=slow)
    step_log: list[dict[str, Any]] = []
    answer: dict[str, Any] = {"state": "collecting"}
    t0 = time.perf_counter()
    walls: list[float] = []
    step: str | None = None
    prompt = ""
    while len(player.sent) < MAX_FRAMES:
        index = player.next(step, prompt)
        if index is None:
            break
        data = clip.frames[index][1] if index >= 0 else clip.between[-1 - index][1]
        w0 = time.perf_counter()
        answer = post(client, attempt_id, len(player.sent), data)
        walls.append(time.perf_counter() - w0)
        if answer.get("state") != "collecting":
            break
        new = answer.get("step")
        if new is not None and new != step:
            at = {"after_frame": len(player.sent), "t": round(time.perf_counter() - t0, 2)}
            step_log.append({"step": new, **at, "segment": list(seg_of[new])})
        step, prompt = new, str(answer.get("prompt") or "")
    sent = player.sent
    base = [float(y) for y in (clip.yaws[i] for i in sent[:3] if i >= 0) if y is not None]
    base_yaw = float(statistics.median(base)) if base else neutral
    res = close_attempt(client, app, attempt_id, answer)
    res.update(
        challenge=steps,
        draws=draws,
        segments={k: list(v) for k, v in seg_of.items()},
        # Against the attempt's baseline yaw (its first 3 frames), with the service's bands: does
        # the segment hold a pose in between (TURN_PARTIAL..TURN_YAW), and does it end back
        # within TURN_RETURN? A "no" is the material, not the rule.
        baseline_yaw=round(base_yaw, 1),
        segment_intermediate={
            k: has_intermediate(clip.yaws, v, 1.0 if k == "turn_left" else -1.0, base_yaw, TURN_PARTIAL, TURN_YAW)
            for k, v in seg_of.items()
            if k.startswith("turn")
        },
        segment_returns={
            k: clip.yaws[v[1]] is not None and abs(float(clip.yaws[v[1]]) - base_yaw) <= TURN_RETURN  # type: ignore[arg-type]
            for k, v in seg_of.items()
            if k.startswith("turn")
        },
        slow_retries=list(player.slowed),
        frames_sent=len(sent),
        baseline_from=player.start,
        rest_frames_sent=player.waits,
        clip_indices=sent,
        study_yaws=[None if i < 0 or clip.yaws[i] is None else round(float(clip.yaws[i]), 1) for i in sent],  # type: ignore[arg-type]
        study_ears=[None if i < 0 or clip.ears[i] is None else round(float(clip.ears[i]), 3) for i in sent],  # type: ignore[arg-type]
        splices=player.splices,
        steps_shown=step_log,
        wall_per_frame_s=round(statistics.fmean(walls), 3) if walls else None,
        seconds=round(time.perf_counter() - t0, 2),
        ran_out_of_clip=answer.get("state") == "collecting",
    )
    return res


def run_videos(clips: list[Clip], plan: Plan, models_dir: Path, max_challenges: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for k, clip in enumerate(clips):
        src = clip.source
        segs = find_segments(clip.yaws, clip.ears)
        pairs = [list(p) for p in itertools.permutations(STEPS_DEFAULT, 2)]
        answerable = [(p, plan_pair(segs, p)) for p in pairs]
        playable = [(p, c) for p, c in answerable if c is not None]
        # Turns first (the rule under test), then the rest, at most max_challenges.
        playable.sort(key=lambda pc: ("blink" in pc[0], pairs.index(pc[0])))
        info = {
            "set": src.set,
            "video": src.video,
            "kind": src.kind,
            "frames": len(clip.frames),
            "face_frames": sum(f == 1 for f in clip.faces),
            "neutral_yaw": round(neutral_yaw(clip.yaws), 1),
            "yaw_range": [
                round(min((y for y in clip.yaws if y is not None), default=0.0), 1),
                round(max((y for y in clip.yaws if y is not None), default=0.0), 1),
            ],
            "segments": {s: [list(x) for x in v] for s, v in segs.items()},
            "answerable_pairs": ["/".join(p) for p, _ in playable],
        }
        if not playable:
            rows.append({**info, "challenge": None, "outcome": "not answerable", "note": "the clip does not contain two different moves"})
            print(f"{src.video}: no answerable pair ({ {s: len(v) for s, v in segs.items()} })", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix="prompted-app-") as tmp:
            app = build_app(Path(tmp), models_dir)
            try:
                username = f"user{k}"
                images, want = enrollment_images(plan, src)
                enrolled = enroll(app, username, images, want)
                client = app.test_client()
                for pair, chosen in playable[:max_challenges]:
                    forget_frames(app)
                    res = play_clip(client, app, username, clip, pair, chosen)
                    rows.append({**info, "enrollment": enrolled, **res})
                    print(
                        f"{src.video} ({src.kind}) {'/'.join(pair)}: {res['outcome']} [{res['detail']}] "
                        f"{res['frames_sent']} frames, {res['seconds']} s, splices {len(res['splices'])}",
                        flush=True,
                    )
            finally:
                dispose(app)
    return rows


# --- 2: slideshows -------------------------------------------------------------------------------------

CANVAS = (640, 480)


def background(seed: int = 9) -> np.ndarray:
    """One constant, room-like synthetic background (smooth noise over a gradient), BGR."""
    rng = np.random.default_rng(seed)
    w, h = CANVAS
    small = rng.uniform(40, 200, (6, 8, 3)).astype(np.float32)
    bg = np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), np.float32)
    bg = bg + np.linspace(-20, 20, w, dtype=np.float32)[None, :, None] + rng.normal(0, 4, (h, w, 3)).astype(np.float32)
    return np.asarray(np.clip(bg, 0, 255).astype(np.uint8))


def on_canvas(photo: np.ndarray, mode: str, bg: np.ndarray) -> np.ndarray:
    """The photo as the camera would see it: filling 640x480 (``full``) or pasted 300 px high
    on the constant background (``composite``)."""
    w, h = CANVAS
    ph, pw = photo.shape[:2]
    if mode == "full":
        s = max(w / pw, h / ph)
        big = cv2.resize(photo, (round(pw * s), round(ph * s)), interpolation=cv2.INTER_LINEAR)
        y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
        return np.ascontiguousarray(big[y0 : y0 + h, x0 : x0 + w])
    s = 300 / ph
    small = cv2.resize(photo, (max(1, round(pw * s)), 300), interpolation=cv2.INTER_LINEAR)
    small = small[:, : min(small.shape[1], w)]
    out = bg.copy()
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return out


def jittered(canvas: np.ndarray, rng: np.random.Generator) -> bytes:
    """One camera frame of a still picture: noise, a 1-px shift, brightness, JPEG quality."""
    dx, dy = (int(v) for v in rng.integers(-1, 2, 2))
    m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    img = cv2.warpAffine(canvas, m, (canvas.shape[1], canvas.shape[0]), borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    img = img * rng.uniform(0.92, 1.08) + rng.uniform(-8, 8) + rng.normal(0, 2.5, img.shape)
    ok, buf = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
    assert ok
    return bytes(buf.tobytes())


@dataclass
class Person:
    folder: Path
    photos: list[Path]
    yaws: list[float | None]  # measured on the full canvas


def measure_people(engine: Any, identity: Path) -> list[Person]:
    people = []
    for folder in sorted(p for p in identity.glob("*/*") if p.is_dir()):
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        if len(photos) < 4:
            continue
        yaws: list[float | None] = []
        for p in photos:
            bgr = cv2.imread(str(p))
            if bgr is None:
                yaws.append(None)
                continue
            _f, yaw, _e = measure(engine, cv2.cvtColor(on_canvas(bgr, "full", background()), cv2.COLOR_BGR2RGB))
            yaws.append(None if yaw is None else round(float(yaw), 1))
        people.append(Person(folder, photos, yaws))
    return people


def slideshow_plans(person: Person) -> list[dict[str, Any]]:
    """(variant, frontal, left, right) picks: natural (a real photo each way) and mirror (the
    most turned photo and its mirror image), when the photos allow them."""
    valid = [(i, y) for i, y in enumerate(person.yaws) if y is not None]
    if len(valid) < 3:
        return []
    f, fy = min(valid, key=lambda iy: abs(iy[1]))
    lefts = [(i, y) for i, y in valid if y - fy >= TURN_OUT]
    rights = [(i, y) for i, y in valid if fy - y >= TURN_OUT]
    out = []
    if lefts and rights:
        li = max(lefts, key=lambda iy: iy[1])[0]
        ri = min(rights, key=lambda iy: iy[1])[0]
        out.append({"variant": "natural", "frontal": f, "left": (li, False), "right": (ri, False)})
    turned = max(lefts + rights, key=lambda iy: abs(iy[1] - fy), default=None)
    if turned is not None:
        i, y = turned
        # Mirroring a photo turned to the subject's left shows them turned to their right.
        pick = {"left": (i, False), "right": (i, True)} if y > fy else {"left": (i, True), "right": (i, False)}
        out.append({"variant": "mirror", "frontal": f, **pick})
    return out


def play_slideshow(client: Any, app: Any, username: str, pics: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, Any]:
    attempt_id, steps, draws = start(client, username, None)
    answer: dict[str, Any] = {"state": "collecting"}
    shown: list[str] = []
    turned_left = 0  # turned frames still to send for the current ask
    asked: str | None = None
    asks = Counter[str]()
    t0 = time.perf_counter()
    for seq in range(1, MAX_FRAMES + 1):
        pose = "frontal"
        if turned_left > 0 and asked is not None:
            pose = asked
            turned_left -= 1
        answer = post(client, attempt_id, seq, jittered(pics[pose], rng))
        shown.append(pose)
        if answer.get("state") != "collecting":
            break
        step = answer.get("step")
        prompt = str(answer.get("prompt") or "")
        if step in ("turn_left", "turn_right"):
            side = step.split("_")[1]
            again = prompt.startswith("Once more")
            if side != asked or (again and turned_left == 0 and shown[-1] == "frontal"):
                asked = side  # a new ask, or asked again after a too-fast swap: show the turned photo
                asks[step] += 1
                turned_left = 3
        if step is None and asked is not None and turned_left == 0:
            asked = None
    res = close_attempt(client, app, attempt_id, answer)
    res.update(
        challenge=steps,
        draws=draws,
        shown=shown,
        frames_sent=len(shown),
        turns_asked=dict(asks),
        seconds=round(time.perf_counter() - t0, 2),
    )
    return res


def run_slideshows(
    engine: Any, identity: Path, models_dir: Path, limit: int, seed: int, canvases: Sequence[str] = ("full", "composite")
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    people = measure_people(engine, identity)
    measured = [{"person": p.folder.relative_to(identity).as_posix(), "yaws": p.yaws} for p in people]
    bg = background()
    todo = []
    for p in people:
        for sp in slideshow_plans(p):
            for mode in canvases:
                todo.append((p, sp, mode))
    # One of each person first, so that the cap keeps as many people as possible.
    todo.sort(key=lambda t: (t[1]["variant"] != "natural", t[2] != "full"))
    seen: set[tuple[str, str, str]] = set()
    ordered = []
    for rnd in range(4):
        for t in todo:
            key = (str(t[0].folder), t[1]["variant"], t[2])
            if key in seen:
                continue
            n_same = sum(1 for s in seen if s[0] == str(t[0].folder))
            if n_same == rnd:
                ordered.append(t)
                seen.add(key)
    ordered = ordered[:limit]
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed)
    by_person: dict[str, list[tuple[Person, dict[str, Any], str]]] = {}
    for t in ordered:
        by_person.setdefault(str(t[0].folder), []).append(t)
    for k, items in enumerate(by_person.values()):
        person = items[0][0]
        with tempfile.TemporaryDirectory(prefix="prompted-slides-") as tmp:
            app = build_app(Path(tmp), models_dir, {"CHALLENGE_STEPS": ["turn_left", "turn_right"]})
            try:
                for j, (_p, sp, mode) in enumerate(items):
                    used = {sp["frontal"], sp["left"][0], sp["right"][0]}
                    username = f"slide{k}_{j}"
                    others = [p.read_bytes() for i, p in enumerate(person.photos) if i not in used][:20]
                    enrolled = enroll(app, username, others, None)
                    client = app.test_client()
                    pics = {}
                    for pose, pick in (("frontal", (sp["frontal"], False)), ("left", sp["left"]), ("right", sp["right"])):
                        bgr = cv2.imread(str(person.photos[pick[0]]))
                        assert bgr is not None
                        if pick[1]:
                            bgr = cv2.flip(bgr, 1)
                        pics[pose] = on_canvas(bgr, mode, bg)
                    res = play_slideshow(client, app, username, pics, rng)
                    yaw_of = {
                        pose: (None if person.yaws[pick[0]] is None else (-1 if pick[1] else 1) * float(person.yaws[pick[0]]))  # type: ignore[arg-type]
                        for pose, pick in (("frontal", (sp["frontal"], False)), ("left", sp["left"]), ("right", sp["right"]))
                    }
                    row = {
                        "person": person.folder.relative_to(identity).as_posix(),
                        "variant": sp["variant"],
                        "canvas": mode,
                        "photos": {
                            pose: person.photos[pick[0]].name + (" (mirrored)" if pick[1] else "")
                            for pose, pick in (("frontal", (sp["frontal"], False)), ("left", sp["left"]), ("right", sp["right"]))
                        },
                        "photo_yaws": yaw_of,
                        "enrollment": enrolled,
                        **res,
                    }
                    rows.append(row)
                    print(
                        f"slideshow {row['person']} {sp['variant']}/{mode}: {res['outcome']} [{res['detail']}] "
                        f"{res['frames_sent']} frames, asks {res['turns_asked']}",
                        flush=True,
                    )
                    forget_frames(app)
            finally:
                dispose(app)
    return rows, measured


# --- report -----------------------------------------------------------------------------------------


def _table_videos(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| video | kind | challenge | outcome | detail | frames | server s | splices | turn segment has a 6-18 deg pose |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("challenge") is None:
            lines.append(f"| {r['video']} | {r['kind']} | - | {r['outcome']} | {r.get('note', '')} | | | | |")
            continue
        inter = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in r["segment_intermediate"].items()) or "-"
        lines.append(
            f"| {r['video']} | {r['kind']} | {'/'.join(r['challenge'])} | {r['outcome']} | {r['detail']} | {r['frames_sent']} |"
            f" {r['seconds']} | {len(r['splices'])} | {inter} |"
        )
    return "\n".join(lines)


def _table_slides(rows: list[dict[str, Any]]) -> str:
    lines = ["| person | variant | canvas | photo yaws (frontal/left/right) | outcome | detail | frames |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        y = r["photo_yaws"]
        lines.append(
            f"| {r['person']} | {r['variant']} | {r['canvas']} | {y['frontal']}/{y['left']}/{y['right']} |"
            f" {r['outcome']} | {r['detail']} | {r['frames_sent']} |"
        )
    return "\n".join(lines)


def tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    played = [r for r in rows if r.get("challenge") is not None]
    granted = sum(r["outcome"] == "granted" for r in played)
    return {"attempts": len(played), "granted": granted, "outcomes": dict(Counter(r["outcome"] for r in played))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, default=RUNS_DIR / "prompted.json")
    ap.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    ap.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    ap.add_argument("--identity", type=Path, default=SHARED_IDENTITY)
    ap.add_argument("--max-challenges", type=int, default=3, help="ordered step pairs played per live video")
    ap.add_argument("--max-replay-challenges", type=int, default=2)
    ap.add_argument("--max-slideshows", type=int, default=16)
    ap.add_argument("--only", nargs="*", default=None, help="videos (paths under --videos) to run")
    ap.add_argument("--skip-videos", action="store_true")
    ap.add_argument("--skip-slideshows", action="store_true")
    ap.add_argument(
        "--canvases", nargs="+", choices=["full", "composite"], default=["full", "composite"], help="slideshow canvases to play"
    )
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument(
        "--wall-clock",
        action="store_true",
        help="frames back to back on the real server clock (budgets then shrink with this machine's load) "
        "instead of a camera clock advancing 125 ms per frame",
    )
    args = ap.parse_args(argv)

    from webapp.face.engine import FaceEngine

    started = time.perf_counter()
    engine = FaceEngine()
    engine.load()
    plan = Plan(args.videos, args.identity)
    sources = [
        s
        for s in discover(args.videos, args.identity)
        if (s.set == "sivakumar" or s.video.split("/", 1)[1].startswith(("real", "fake"))) and (not args.only or s.video in args.only)
    ]
    global CAMERA
    camera = contextlib.nullcontext() if args.wall_clock else CameraClock()
    CAMERA = None if args.wall_clock else camera  # type: ignore[assignment]
    with camera:
        return _run(args, argv, engine, plan, sources, started)


def _run(args: argparse.Namespace, argv: list[str] | None, engine: Any, plan: Plan, sources: list[Source], started: float) -> int:
    live_rows: list[dict[str, Any]] = []
    replay_rows: list[dict[str, Any]] = []
    if not args.skip_videos:
        clips = [analyse_clip(engine, s, args.videos) for s in sources]
        print(
            f"analysed {sum(len(c.frames) for c in clips)} frames of {len(clips)} clips in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        live_rows = run_videos([c for c in clips if c.source.kind == "live"], plan, args.models_dir, args.max_challenges)
        replay_rows = run_videos([c for c in clips if c.source.kind == "replay"], plan, args.models_dir, args.max_replay_challenges)
    slide_rows: list[dict[str, Any]] = []
    measured: list[dict[str, Any]] = []
    if not args.skip_slideshows:
        slide_rows, measured = run_slideshows(engine, args.identity, args.models_dir, args.max_slideshows, args.seed, args.canvases)
    report = {
        "command": "python -m ml.studies.prompted " + " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": {
            "videos": "8 fps, <= 640 px wide, JPEG q85 (ml.studies.attempts.attempt_frames); frames sent back to back (no sleep)",
            "clock": "real server clock" if args.wall_clock else "camera clock: +125 ms per frame (a server that keeps up)",
            "config": {"CHALLENGE_STEPS": STEPS_DEFAULT, "CHALLENGE_COUNT": 2, "RATE_LIMIT_ATTEMPTS": 0, "LOCKOUT_THRESHOLD": 0},
            "slideshow_config": {"CHALLENGE_STEPS": ["turn_left", "turn_right"], "CHALLENGE_COUNT": 2},
            "segments": {"turn_out_deg": TURN_OUT, "turn_back_deg": TURN_BACK, "max_frames": MAX_SEGMENT, "blink_dip": BLINK_DIP},
        },
        "summary": {"live": tally(live_rows), "slideshow": tally(slide_rows), "replay": tally(replay_rows)},
        "live": live_rows,
        "slideshows": slide_rows,
        "replays": replay_rows,
        "photo_yaws": measured,
        "seconds": round(time.perf_counter() - started, 1),
    }
    report["markdown"] = "\n\n".join(
        [
            "Real users\n\n" + _table_videos(live_rows),
            "Slideshows\n\n" + _table_slides(slide_rows),
            "Scrubbed replays\n\n" + _table_videos(replay_rows),
        ]
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(report["markdown"])
    print(json.dumps(report["summary"], indent=1))
    print(f"wrote {args.json} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

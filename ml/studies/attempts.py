"""What a user meets: whole login attempts played through the HTTP API, per video, per ensemble.

    python -m ml.studies.attempts --json runs/attempts.json [--models-dir DIR] [--old-card /tmp/ensemble-old.json]

Every video of ../shared/datasets/videos is decoded with cv2, sampled at about 8 fps (container
time), scaled to at most 640 px wide (never up) and encoded as JPEG q85 (what the login page
sends), then cut into non-overlapping windows of 25 frames: one login attempt each (a remainder
shorter than a window is dropped).

For each ensemble under test (NEW: ``--models-dir``, the shipped one by default; OLD: a temporary
copy of that folder with ``--old-card`` as its ensemble.json) and each video, a fresh app is built
on a temporary SQLite file, passive-only (``CHALLENGE_STEPS=[]``) with throttling off
(``RATE_LIMIT_ATTEMPTS=0``, ``LOCKOUT_THRESHOLD=0``) and every other setting at its default; the
person shown is enrolled (the sivakumar identity photos of that person, or 3 good frames of the
set's own live video; see ``SOURCES``), so that identity passes and the liveness layer is what is
judged. Each window is then played through ``POST /api/v1/login/start`` and
``POST /api/v1/login/<id>/frames`` (Flask test client, paced like the page: the next frame
``FRAME_INTERVAL_MS`` after the previous one was sent, or at once when the answer came later) until
the attempt ends. Still collecting after the window's 25 frames counts as not granted
("undecided"). The attempt's stored row (what the admin API's attempt JSON serialises) gives the
reason, its score summary and every frame's signals (fused and per-member live scores).

Reported per source and pooled, per ensemble: live attempts granted / not granted (BPCER at the
attempt level, with the reasons), replay attempts granted (APCER), the mean live score of each
attempt's scored frames (margins), and the server CPU per frame (``time.process_time`` around each
request, in-process). Everything derived from the shared data stays in runs/ (git-ignored).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ml.blink.frames import video_frames
from ml.blink.paths import SHARED_IDENTITY, SHARED_VIDEOS
from ml.paths import MODELS_DIR, RUNS_DIR

SAMPLE_FPS = 8.0
WINDOW = 25
MAX_WIDTH = 640  # the brief's 480-640 px; the shipped page (webapp/web/pages.py) sends 480 wide
JPEG_QUALITY = 85
ENROLL_FRAMES = 3
OLD_CARD = Path("/tmp/ensemble-old.json")
THRESHOLD_SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class Source:
    """One video and how its attempt is set up."""

    set: str  # the set folder
    video: str  # path under the videos folder
    kind: str  # "live" or "replay"
    enroll: str  # "identity:<dir under identity/>" or "video:<path under videos/>"
    note: str = ""

    @property
    def name(self) -> str:
        return self.video.rsplit(".", 1)[0]


# saikan45/25122019204358.avi was looked at (frames 0, 30, 60, 90, 114): one man in a room, strongly
# backlit by a window, turning his head; no screen edge, bezel, moire or reflection in view, and
# not the person of the saikan45 PAD crops (the shared tutorial frames). Taken as a live webcam
# recording (the repo is a home-security camera project); there is no other video of him.
VIEWED_KINDS = {"saikan45/25122019204358.avi": ("live", "looked at: a backlit webcam recording of one man (no screen in view)")}


def classify(video: str) -> tuple[str, str]:
    """``(kind, note)`` of a video by the dataset README's naming (sivakumar/* and real* live,
    fake* replays), or from ``VIEWED_KINDS``; anything else is refused."""
    if video in VIEWED_KINDS:
        return VIEWED_KINDS[video]
    set_name, file = video.split("/", 1)
    if set_name == "sivakumar" or file.startswith("real"):
        return "live", ""
    if file.startswith("fake"):
        return "replay", ""
    raise ValueError(f"{video}: not named live or replay; look at it and add it to VIEWED_KINDS")


def discover(videos_dir: Path, identity_dir: Path) -> list[Source]:
    """Every video, with what to enroll for it."""
    paths = sorted(p for p in videos_dir.glob("*/*") if p.suffix.lower() in {".mp4", ".webm", ".avi", ".mov", ".mkv"})
    rels = [p.relative_to(videos_dir).as_posix() for p in paths]
    kinds = {rel: classify(rel) for rel in rels}
    out = []
    for rel in rels:
        kind, note = kinds[rel]
        set_name, file = rel.split("/", 1)
        if set_name == "sivakumar":
            person = file.rsplit(".", 1)[0]
            if not (identity_dir / "sivakumar" / person).is_dir():
                raise FileNotFoundError(identity_dir / "sivakumar" / person)
            out.append(Source(set_name, rel, kind, f"identity:sivakumar/{person}", note))
            continue
        own_live = [r for r in rels if r.startswith(set_name + "/") and kinds[r][0] == "live"]
        if kind == "live":
            enroll = f"video:{rel}"
        elif own_live:
            enroll = f"video:{own_live[0]}"
        else:
            enroll = f"video:{rel}"
            note = (note + "; " if note else "") + "no live video in the set: enrolled from frames of the replay itself"
        out.append(Source(set_name, rel, kind, enroll, note))
    return out


# --- frames ----------------------------------------------------------------------------------


def sample(frames: Iterable[tuple[float, np.ndarray]], fps: float = SAMPLE_FPS) -> Iterator[tuple[float, np.ndarray]]:
    """Frames at about ``fps`` by their timestamps: the first frame at or after each tick."""
    step, next_t = 1.0 / fps, None
    for t, bgr in frames:
        if next_t is None or t >= next_t - 1e-6:
            yield t, bgr
            next_t = (t if next_t is None else next_t) + step
            while next_t <= t:  # a gap in the container: resume at the next tick after it
                next_t += step


def browser_jpeg(bgr: np.ndarray, max_width: int = MAX_WIDTH, quality: int = JPEG_QUALITY) -> bytes:
    """The page's frame: scaled to at most ``max_width`` wide (never up), JPEG at ``quality``."""
    h, w = bgr.shape[:2]
    if w > max_width:
        bgr = cv2.resize(bgr, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def windows(items: Sequence[Any], size: int = WINDOW, limit: int | None = None) -> list[list[Any]]:
    """Non-overlapping windows of ``size`` (a shorter remainder is dropped), at most ``limit``."""
    out = [list(items[i : i + size]) for i in range(0, len(items) - size + 1, size)]
    return out if limit is None else out[:limit]


def attempt_frames(
    path: Path, fps: float = SAMPLE_FPS, max_width: int = MAX_WIDTH, quality: int = JPEG_QUALITY
) -> list[tuple[float, bytes]]:
    return [(t, browser_jpeg(bgr, max_width, quality)) for t, bgr in sample(video_frames(path), fps)]


def enrollment_candidates(path: Path, count: int = 15) -> list[bytes]:
    """Evenly spaced full-resolution frames of a video (JPEG q95), best candidates for templates."""
    frames = [bgr for _t, bgr in video_frames(path)]
    if not frames:
        return []
    picks = np.unique(np.linspace(0, len(frames) - 1, count).round().astype(int))
    out = []
    for i in picks:
        ok, buf = cv2.imencode(".jpg", frames[int(i)], [cv2.IMWRITE_JPEG_QUALITY, 95])
        if ok:
            out.append(bytes(buf.tobytes()))
    return out


# --- the app and the attempts --------------------------------------------------------------------


def make_app(workdir: Path, models_dir: Path) -> Any:
    """A fresh app as the tests build it: migrated SQLite file, passive-only, no throttling."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.runtime.worker import runtime

    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "study-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'study.sqlite'}",
        "LIVENESS_MODEL_DIR": str(models_dir),
        "PRELOAD_MODELS": False,
        "CHALLENGE_STEPS": [],
        "RATE_LIMIT_ATTEMPTS": 0,
        "LOCKOUT_THRESHOLD": 0,
        "ADMISSION_MAX_ATTEMPTS": 0,  # challenge draws are abandoned attempts: never refuse one
    }
    app = create_app(config)
    with app.app_context():
        upgrade()
        rt = runtime()
        rt.warm_up()  # what gunicorn.conf.py does per worker: no model load inside a timed request
        if rt.errors:
            raise RuntimeError(f"models failed to load: {rt.errors}")
    return app


def dispose(app: Any) -> None:
    from webapp.db.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def enroll(app: Any, username: str, images: list[bytes], want: int | None) -> dict[str, Any]:
    """Enroll ``images`` (all of them when ``want`` is None, else one by one until ``want`` are in)."""
    from webapp.accounts.enrollment import enroll_images
    from webapp.accounts.users import create_user
    from webapp.db.extensions import db

    with app.app_context():
        user = create_user(username, username)
        enrolled, rejected = 0, Counter[str]()
        batches = [images] if want is None else [[img] for img in images]
        for batch in batches:
            # One by one, below the service's account minimum (ENROLL_MIN_FRAMES) on purpose:
            # the study controls how many templates an account holds.
            result = enroll_images(user, batch, "cli", min_good=1)
            enrolled += result.enrolled
            rejected.update(r["reason"] for r in result.rejected)
            if want is not None and enrolled >= want:
                break
        db.session.commit()
    return {"offered": len(images), "enrolled": enrolled, "rejected": dict(rejected)}


def _attempt_record(app: Any, public_id: str) -> dict[str, Any]:
    """The attempt as the admin API serialises it (GET /api/v1/admin/attempts/<id>)."""
    import sqlalchemy as sa

    from webapp.db.extensions import db
    from webapp.db.models import LoginAttempt
    from webapp.web.serializers import attempt_json

    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == public_id))
        assert row is not None
        return attempt_json(row, frames=True)


def reason_of(state: str, reason: str | None, detail: str | None) -> str:
    """granted, undecided, or the denial reason (spoof split into its passive and planar causes)."""
    if state == "granted":
        return "granted"
    if state == "collecting":
        return "undecided"
    if reason == "spoof" and detail:
        if detail.startswith("mean live score"):
            return "spoof (passive)"
        if "flat picture" in detail:
            return "spoof (planar motion)"
    return reason or state


def play(client: Any, app: Any, username: str, frames: list[bytes], interval_ms: float | None) -> dict[str, Any]:
    """One login attempt: start, then frames (paced like the page) until it ends or the window does."""
    r = client.post("/api/v1/login/start", json={"username": username})
    if r.status_code != 201:
        raise RuntimeError(f"login/start answered {r.status_code}: {r.get_data(as_text=True)[:200]}")
    body = r.get_json()
    attempt_id = body["attempt_id"]
    pace = (body.get("frame_interval_ms") if interval_ms is None else interval_ms) or 0
    cpu: list[float] = []
    wall: list[float] = []
    answer: dict[str, Any] = {"state": "collecting"}
    for seq, data in enumerate(frames, 1):
        c0, w0 = time.process_time(), time.perf_counter()
        form = {"frame": (io.BytesIO(data), "frame.jpg", "image/jpeg"), "seq": str(seq)}
        r = client.post(f"/api/v1/login/{attempt_id}/frames", data=form, content_type="multipart/form-data")
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        answer = {"status": r.status_code, **(r.get_json() or {})}
        if r.status_code != 200:
            raise RuntimeError(f"frame {seq} answered {r.status_code}: {answer}")
        if answer.get("state") != "collecting":
            break
        wait = pace / 1000.0 - (time.perf_counter() - w0)
        if wait > 0:
            time.sleep(wait)
    if answer.get("state") == "granted":
        client.post("/api/v1/logout")
    rec = _attempt_record(app, attempt_id)
    frame_log = rec.get("frame_log", [])
    lives = [f["signals"].get("live") for f in frame_log if f.get("faces") == 1]
    scored = [float(v) for v in lives if v is not None]
    members: dict[str, list[float]] = {}
    for f in frame_log:
        for name, value in (f["signals"].get("models") or {}).items():
            if value is not None:
                members.setdefault(name, []).append(float(value))
    scores = rec.get("scores") or {}
    return {
        "state": rec["state"],
        "reason": rec["reason"],
        "detail": rec["detail"],
        "outcome": reason_of(rec["state"], rec["reason"], rec["detail"]),
        "frames_sent": len(cpu),
        "face_frames": scores.get("face_frames"),
        "matched_frames": scores.get("matched_frames"),
        "best_distance": scores.get("best_distance"),
        "live_mean_policy": scores.get("live_mean"),  # the mean the policy judged (at the decision)
        "live_frames": scores.get("live_frames"),
        "live_mean_frames": round(statistics.fmean(scored), 4) if scored else None,
        "live_scores": [round(v, 4) for v in scored],
        "face_frames_unscored": sum(1 for v in lives if v is None),
        "member_means": {k: round(statistics.fmean(v), 4) for k, v in sorted(members.items())},
        "cpu_s": [round(c, 4) for c in cpu],
        "wall_s": [round(w, 4) for w in wall],
    }


# --- the study ------------------------------------------------------------------------------------


@dataclass
class Plan:
    videos_dir: Path
    identity_dir: Path
    max_width: int = MAX_WIDTH
    fps: float = SAMPLE_FPS
    window: int = WINDOW
    max_windows: int | None = None
    interval_ms: float | None = None  # None: the server's FRAME_INTERVAL_MS hint
    sources: list[Source] = field(default_factory=list)


def enrollment_images(plan: Plan, src: Source) -> tuple[list[bytes], int | None]:
    kind, _, where = src.enroll.partition(":")
    if kind == "identity":
        folder = plan.identity_dir / where
        return [p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix.lower() in {".jpg", ".jpeg", ".png"}][:20], None
    return enrollment_candidates(plan.videos_dir / where), ENROLL_FRAMES


def run_ensemble(label: str, models_dir: Path, plan: Plan, frames_of: dict[str, list[tuple[float, bytes]]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for k, src in enumerate(plan.sources):
        wins = windows(frames_of[src.video], plan.window, plan.max_windows)
        with tempfile.TemporaryDirectory(prefix="attempts-app-") as tmp:
            app = make_app(Path(tmp), models_dir)
            try:
                username = f"user{k}"
                images, want = enrollment_images(plan, src)
                enrolled = enroll(app, username, images, want)
                client = app.test_client()
                t0 = time.perf_counter()
                if enrolled["enrolled"] == 0:
                    # The user could not be enrolled (the face detector never sees this face): the
                    # attempts are still played, as the user would meet them, and kept apart in
                    # the pooled rates that judge the liveness layer.
                    print(f"[{label}] {src.video}: nothing enrolled ({enrolled}); attempts played anyway", flush=True)
                for w, win in enumerate(wins):
                    res = play(client, app, username, [data for _t, data in win], plan.interval_ms)
                    rows.append(
                        {
                            "ensemble": label,
                            "set": src.set,
                            "video": src.video,
                            "kind": src.kind,
                            "window": w,
                            "t0": round(win[0][0], 2),
                            "enrollment": enrolled,
                            "enrolled": enrolled["enrolled"] > 0,
                            **res,
                        }
                    )
                outs = Counter(r["outcome"] for r in rows if r["video"] == src.video and r["ensemble"] == label)
                print(
                    f"[{label}] {src.video} ({src.kind}): {len(wins)} attempts, enrolled {enrolled['enrolled']}/{enrolled['offered']},"
                    f" {dict(outs)}, {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
            finally:
                dispose(app)
    return rows


def _mean(values: Iterable[float | None]) -> float | None:
    v = [float(x) for x in values if x is not None]
    return round(statistics.fmean(v), 4) if v else None


def summarise(rows: list[dict[str, Any]], threshold: float | None = None) -> dict[str, Any]:
    """Attempt-level rates of a group of attempts of one ensemble."""
    live = [r for r in rows if r["kind"] == "live"]
    replay = [r for r in rows if r["kind"] == "replay"]
    out: dict[str, Any] = {"n_live": len(live), "n_replay": len(replay)}
    if live:
        granted = sum(r["outcome"] == "granted" for r in live)
        out.update(
            live_granted=granted,
            live_not_granted=len(live) - granted,
            bpcer=round((len(live) - granted) / len(live), 4),
            live_reasons=dict(Counter(r["outcome"] for r in live if r["outcome"] != "granted")),
            live_mean_score=_mean(r["live_mean_frames"] for r in live),
            live_min_attempt_score=min((r["live_mean_frames"] for r in live if r["live_mean_frames"] is not None), default=None),
        )
    if replay:
        granted = sum(r["outcome"] == "granted" for r in replay)
        out.update(
            replay_granted=granted,
            apcer=round(granted / len(replay), 4),
            replay_reasons=dict(Counter(r["outcome"] for r in replay)),
            replay_mean_score=_mean(r["live_mean_frames"] for r in replay),
            replay_max_attempt_score=max((r["live_mean_frames"] for r in replay if r["live_mean_frames"] is not None), default=None),
        )
    cpu = [c for r in rows for c in r["cpu_s"]]
    if cpu:
        out["cpu_per_frame_s"] = {
            "mean": round(statistics.fmean(cpu), 4),
            "median": round(statistics.median(cpu), 4),
            "p90": round(float(np.quantile(cpu, 0.9)), 4),
            "frames": len(cpu),
        }
    out["frames_per_attempt"] = _mean(r["frames_sent"] for r in rows)
    return out


def threshold_sweep(rows: list[dict[str, Any]], thresholds: Sequence[float] = THRESHOLD_SWEEP) -> dict[str, dict[str, float | None]]:
    """Counterfactual passive thresholds: the decision comes on the same frame whatever the
    threshold (it waits for 3 matched and 5 scored frames), so an attempt decided by the passive
    check (granted or spoof (passive)) would be granted at ``t`` iff its judged mean >= ``t``.
    Attempts ended by anything else keep their outcome."""
    out: dict[str, dict[str, float | None]] = {}
    for t in thresholds:
        rates: dict[str, float | None] = {}
        for kind, key in (("live", "bpcer"), ("replay", "apcer")):
            group = [r for r in rows if r["kind"] == kind]
            if not group:
                rates[key] = None
                continue
            granted = 0
            for r in group:
                if r["outcome"] in ("granted", "spoof (passive)") and r["live_mean_policy"] is not None:
                    granted += r["live_mean_policy"] >= t
            rates[key] = round((len(group) - granted) / len(group) if kind == "live" else granted / len(group), 4)
        out[f"{t:.2f}"] = rates
    return out


def _cell(s: dict[str, Any], kind: str) -> str:
    """'granted/n (reasons); score mean [worst]' for one group (worst: lowest live, highest replay)."""
    if kind == "live":
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.get("live_reasons", {}).items()))
        text = f"{s['live_granted']}/{s['n_live']} granted"
        score, worst = s.get("live_mean_score"), s.get("live_min_attempt_score")
    else:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.get("replay_reasons", {}).items()) if k != "granted")
        text = f"**{s['replay_granted']}/{s['n_replay']} granted**"
        score, worst = s.get("replay_mean_score"), s.get("replay_max_attempt_score")
    if reasons:
        text += f" ({reasons})"
    if score is not None:
        text += f"; {score:.2f} [{worst:.2f}]"
    return text


def markdown(report: dict[str, Any]) -> str:
    labels = list(report["ensembles"])
    head = "| source | kind | attempts | " + " | ".join(f"{lab}: outcome; mean live score [worst attempt]" for lab in labels) + " |"
    lines = [head, "|" + "---|" * (3 + len(labels))]
    by = report["summary"]
    for src in report["sources"]:
        first = by[labels[0]]["per_source"][src["name"]]
        n = first["n_live"] or first["n_replay"]
        cells = [_cell(by[lab]["per_source"][src["name"]], src["kind"]) for lab in labels]
        lines.append(f"| {src['name']} | {src['kind']} | {n} | " + " | ".join(cells) + " |")
    for kind, key in (("live", "bpcer"), ("replay", "apcer")):
        cells = []
        for lab in labels:
            s = by[lab]["pooled"]
            cells.append(f"**{key.upper()} {100 * s[key]:.1f} %** — " + _cell(s, kind) if key in s else "")
        lines.append(f"| **pooled {kind}** | {kind} | {by[labels[0]]['pooled']['n_' + kind]} | " + " | ".join(cells) + " |")
    if any(not r["enrolled"] for r in report["attempts"]):
        for kind, key in (("live", "bpcer"), ("replay", "apcer")):
            cells = []
            for lab in labels:
                s = by[lab]["pooled_enrolled"]
                cells.append(f"**{key.upper()} {100 * s[key]:.1f} %** — " + _cell(s, kind) if key in s else "")
            n = by[labels[0]]["pooled_enrolled"]["n_" + kind]
            lines.append(f"| pooled {kind}, enrolled sources only | {kind} | {n} | " + " | ".join(cells) + " |")
    cpus = [by[lab]["pooled"]["cpu_per_frame_s"] for lab in labels]
    cpu = " | ".join(f"{c['median'] * 1000:.0f} ms median, {c['p90'] * 1000:.0f} ms p90, {c['mean'] * 1000:.0f} ms mean" for c in cpus)
    lines.append(f"| server CPU per frame | | | {cpu} |")
    return "\n".join(lines) + "\n"


def old_models_dir(models_dir: Path, card: Path, into: Path) -> Path:
    """A copy of ``models_dir`` with ``card`` as its ensemble.json."""
    target = into / "models-old"
    shutil.copytree(models_dir, target)
    shutil.copyfile(card, target / "ensemble.json")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, default=RUNS_DIR / "attempts.json")
    ap.add_argument("--markdown", type=Path, default=None, help="default: the --json path with .md")
    ap.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="the NEW ensemble's model folder (default: the shipped one)")
    ap.add_argument("--old-card", type=Path, default=OLD_CARD, help="the OLD ensemble.json, run on a copy of --models-dir")
    ap.add_argument("--skip-old", action="store_true")
    ap.add_argument("--videos", type=Path, default=SHARED_VIDEOS)
    ap.add_argument("--identity", type=Path, default=SHARED_IDENTITY)
    ap.add_argument("--max-width", type=int, default=MAX_WIDTH)
    ap.add_argument("--fps", type=float, default=SAMPLE_FPS)
    ap.add_argument("--window", type=int, default=WINDOW)
    ap.add_argument("--max-windows", type=int, default=None, help="at most this many attempts per video")
    ap.add_argument("--interval-ms", type=float, default=None, help="client pacing (default: the server's FRAME_INTERVAL_MS)")
    ap.add_argument("--only", nargs="*", default=None, help="videos (paths under --videos) to run")
    args = ap.parse_args(argv)

    plan = Plan(args.videos, args.identity, args.max_width, args.fps, args.window, args.max_windows, args.interval_ms)
    plan.sources = [s for s in discover(args.videos, args.identity) if not args.only or s.video in args.only]
    started = time.perf_counter()
    frames_of = {s.video: attempt_frames(args.videos / s.video, args.fps, args.max_width) for s in plan.sources}
    print(
        f"decoded {sum(map(len, frames_of.values()))} frames of {len(frames_of)} videos in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    ensembles: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="attempts-models-") as tmp:
        dirs = {"new": args.models_dir}
        if not args.skip_old:
            dirs["old"] = old_models_dir(args.models_dir, args.old_card, Path(tmp))
        for label, models_dir in dirs.items():
            card = json.loads((models_dir / "ensemble.json").read_text())
            ensembles[label] = {
                "models_dir": str(models_dir) if label == "new" else f"copy of {args.models_dir} with {args.old_card}",
                "version": card.get("version"),
                "members": {m["model"]: m["weight"] for m in card["members"]},
                "threshold": card["threshold"],
            }
            t0 = time.perf_counter()
            rows += run_ensemble(label, models_dir, plan, frames_of)
            ensembles[label]["seconds"] = round(time.perf_counter() - t0, 1)

    summary: dict[str, Any] = {}
    for label in ensembles:
        mine = [r for r in rows if r["ensemble"] == label]
        summary[label] = {
            "pooled": summarise(mine),
            # Without the sources nobody could be enrolled from (identity can never pass there).
            "pooled_enrolled": summarise([r for r in mine if r["enrolled"]]),
            "per_source": {s.name: summarise([r for r in mine if r["video"] == s.video]) for s in plan.sources},
            "threshold_sweep": threshold_sweep(mine),
        }
    report: dict[str, Any] = {
        "command": "python -m ml.studies.attempts " + " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": {
            "sample_fps": args.fps,
            "window_frames": args.window,
            "max_windows_per_video": args.max_windows,
            "max_width": args.max_width,
            "jpeg_quality": JPEG_QUALITY,
            "interval_ms": args.interval_ms,
            "config": {"CHALLENGE_STEPS": [], "RATE_LIMIT_ATTEMPTS": 0, "LOCKOUT_THRESHOLD": 0, "others": "defaults"},
        },
        "ensembles": ensembles,
        "sources": [{**asdict(s), "name": s.name, "frames": len(frames_of[s.video])} for s in plan.sources],
        "summary": summary,
        "attempts": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    report["markdown"] = markdown(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    md_path = args.markdown or args.json.with_suffix(".md")
    md_path.write_text(report["markdown"])
    print(report["markdown"])
    for label in ensembles:
        p = summary[label]["pooled"]
        print(f"{label}: BPCER {p.get('bpcer')} APCER {p.get('apcer')} cpu/frame {p.get('cpu_per_frame_s')}")
    print(f"wrote {args.json} and {md_path} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

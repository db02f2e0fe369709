"""Closed-loop load against a real gunicorn server: frames/s, latency, errors, attempts finished.

    python -m benchmarks.load [--clients 16 50] [--seconds 60] [--workers 2] [--database-url URL]
                              [--json runs/bench/load.json]

A temporary database (SQLite file by default, or ``--database-url``) is migrated and one user
is enrolled from a live clip of ../shared/datasets/videos; then gunicorn is started with the
repository's gunicorn.conf.py (``--workers`` sync workers) and N client threads each run
logins back to back, like N people at the login page:

* ``POST /api/v1/login/start``; a 503 (admission control) is retried after its ``Retry-After``;
* the clip's frames (8 fps, 640 px, JPEG q85), prompts answered from the clip as
  ``ml.studies.prompted`` answers them, one request in flight, the next one no sooner than the
  camera's next frame (125 ms after the previous one was sent), until the attempt is decided,
  expires (410) or the clip ends.

Every frame sent is a distinct byte string: a JPEG comment segment carrying the client, attempt
and frame number is inserted after the SOI marker (the pixels are the clip's), so the cross-attempt
replay check does not end the attempts. Throttling is off for the run (RATE_LIMIT_ATTEMPTS 0,
LOCKOUT_THRESHOLD 0) and, since every client replays the same clip, so is the near-duplicate
denial (REPLAY_MAX_NEAR_DUPLICATE_FRAMES very high; the lookup itself still runs).

Reported per client count: frames answered per second, frame latency p50/p95/p99 (wall, client
side), errors (statuses other than 200, 201, 503-at-start and 410), attempts started / refused
/ finished (granted or denied) / expired, the server's CPU per answered frame (from /proc of
the gunicorn workers), worker RSS and the time from spawn to a healthy /healthz.

``--soak`` runs one client count for ``--seconds`` and also greps the server log for
"database is locked".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from benchmarks.login_cost import DEFAULT_WIDTH, machine

REPO = Path(__file__).resolve().parent.parent
CAMERA_INTERVAL = 0.125  # seconds between camera frames (8 fps)
_TICK = os.sysconf("SC_CLK_TCK")
RUN_TOKEN = os.urandom(6).hex()  # client numbers repeat from one client count to the next
SHUTDOWN_S: list[float] = []  # seconds from SIGTERM to the master's exit, per server run


# --- the clip and its prompt answers ---------------------------------------------------------


@dataclass
class Script:
    """A clip's frames and which stretch of it answers each step."""

    frames: list[bytes]
    segments: dict[str, tuple[int, int]]
    baseline: int


def prepare_clip(video: str, width: int) -> tuple[Script, list[bytes], Any]:
    """Frames, the chosen segments per step and the enrollment images of one live clip."""
    import itertools

    import ml.studies.prompted as prompted
    from benchmarks.login_cost import _clip
    from ml.blink.paths import SHARED_IDENTITY, SHARED_VIDEOS
    from ml.studies.attempts import Plan, discover, enrollment_images
    from webapp.face.engine import FaceEngine

    src = {s.video: s for s in discover(SHARED_VIDEOS, SHARED_IDENTITY)}[video]
    engine = FaceEngine()
    clip = _clip(engine, src, SHARED_VIDEOS, width)
    segs = prompted.find_segments(clip.yaws, clip.ears)
    chosen: dict[str, tuple[int, int]] = {}
    for pair in itertools.permutations(prompted.STEPS_DEFAULT, 2):
        plan = prompted.plan_pair(segs, pair)
        if plan is not None:
            for step, seg in zip(pair, plan, strict=True):
                chosen.setdefault(step, seg)
    # Where a person following the prompts starts: the prompted study's own Playback start, the
    # rest frames (frontal, eyes open) closest before the first move.
    rest = prompted.rest_frames(clip.yaws, clip.ears, prompted.neutral_yaw(clip.yaws))
    if chosen:
        baseline = prompted.Playback(rest, chosen, min(chosen, key=lambda step: chosen[step][0])).cursor
    else:  # no step can be played: the clip's first rest frames
        baseline = (prompted.rest_run_before(rest, 0) if any(rest) else None) or 0
    images, want = enrollment_images(Plan(SHARED_VIDEOS, SHARED_IDENTITY), src)
    return Script([d for _t, d in clip.frames], chosen, baseline), images[: want or len(images)], src


def distinct(jpeg: bytes, tag: str) -> bytes:
    """The same JPEG with a COM segment naming ``tag`` after SOI: new bytes, same pixels."""
    payload = tag.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            "FLASK_SECRET_KEY": "load-benchmark",
            "FLASK_RATE_LIMIT_ATTEMPTS": "0",
            "FLASK_LOCKOUT_THRESHOLD": "0",
            "FLASK_REPLAY_MAX_NEAR_DUPLICATE_FRAMES": "1000000",
            "LIVEGATE_LOG_LEVEL": "info",  # "models ready" per worker tells when it is warm
        }
    )
    env.update(extra)
    return env


def attempt_summary(database_url: str) -> dict[str, int]:
    """How the run's attempts ended, by state, reason and the first words of the detail."""
    code = (
        "import json, collections\n"
        "import sqlalchemy as sa\n"
        "from webapp import create_app\n"
        "from webapp.db.extensions import db\n"
        "from webapp.db.models import LoginAttempt\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    rows = db.session.execute(sa.select(LoginAttempt.state, LoginAttempt.reason, LoginAttempt.detail)).all()\n"
        "c = collections.Counter(f'{s}/{r}: ' + ' '.join((d or '').split()[:4]) for s, r, d in rows)\n"
        "print(json.dumps(dict(c.most_common(15))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=server_env(database_url, {}), cwd=REPO, check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def prepare_database(database_url: str, username: str, images: list[bytes]) -> None:
    """Migrate and enroll, in a child process with the server's environment (so DATABASE_URL
    handling is the app's own)."""
    code = (
        "import sys, pickle\n"
        "from flask_migrate import upgrade\n"
        "from webapp import create_app\n"
        "from ml.studies.attempts import enroll\n"
        "app = create_app()\n"
        "with app.app_context(): upgrade()\n"
        "images = pickle.load(sys.stdin.buffer)\n"
        f"print(enroll(app, {username!r}, images, None))\n"
    )
    import pickle

    subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps(images),
        env=server_env(database_url, {}),
        cwd=REPO,
        check=True,
        capture_output=True,
    )


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    healthy_after_s: float


@contextlib.contextmanager
def gunicorn(database_url: str, workers: int, log: Path, extra_env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    env = server_env(database_url, extra_env)
    env["LIVEGATE_BIND"] = f"127.0.0.1:{port}"
    env["LIVEGATE_WORKERS"] = str(workers)
    cmd = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        "gunicorn.conf.py",
        "--access-logfile",
        "/dev/null",
        "webapp:create_app()",
    ]
    t0 = time.perf_counter()
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    healthy = None
    try:
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and proc.poll() is None:
            with contextlib.suppress(requests.RequestException):
                r = requests.get(url + "/healthz", timeout=2)
                warm = log.read_text(errors="replace").count("models ready")
                if r.status_code == 200 and warm >= workers:
                    healthy = time.perf_counter() - t0
                    break
            time.sleep(0.1)
        if healthy is None:
            raise RuntimeError(f"gunicorn did not become healthy; see {log}")
        yield Server(proc, url, log, round(healthy, 2))
    finally:
        t_stop = time.perf_counter()
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
            SHUTDOWN_S.append(round(time.perf_counter() - t_stop, 2))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_pids(master: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    out.append(int(entry))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def pss_mb(pids: list[int]) -> list[float]:
    """Proportional set size: shared pages (dlib's models loaded before fork) divided among
    the processes sharing them, unlike RSS, which counts them in full in every worker."""
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
    return out


def rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
    return out


# --- the clients -----------------------------------------------------------------------------


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    frame_latency: list[float] = field(default_factory=list)
    start_latency: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    retry_after: list[float] = field(default_factory=list)
    started: int = 0
    frames_ok: int = 0
    errors: list[str] = field(default_factory=list)


def client_loop(k: int, server: Server, username: str, script: Script, stop: threading.Event, tally: Tally) -> None:
    http = requests.Session()
    attempt_no = 0
    while not stop.is_set():
        t = time.perf_counter()
        try:
            r = http.post(server.url + "/api/v1/login/start", json={"username": username}, timeout=60)
        except requests.RequestException as exc:
            with tally.lock:
                tally.statuses["start:exception"] += 1
                tally.errors.append(f"start: {exc.__class__.__name__}")
            time.sleep(1)
            continue
        with tally.lock:
            tally.start_latency.append(time.perf_counter() - t)
            tally.statuses[f"start:{r.status_code}"] += 1
        if r.status_code == 503:
            wait = float(r.headers.get("Retry-After", "1") or 1)
            with tally.lock:
                tally.refused += 1
                tally.retry_after.append(wait)
            stop.wait(min(wait, 5.0))
            continue
        if r.status_code != 201:
            with tally.lock:
                tally.errors.append(f"start {r.status_code}: {r.text[:120]}")
            stop.wait(1)
            continue
        attempt_no += 1
        with tally.lock:
            tally.started += 1
        outcome = play(k, attempt_no, http, server, r.json()["attempt_id"], script, stop, tally)
        with tally.lock:
            tally.outcomes[outcome] += 1
        if outcome == "granted":
            http.post(server.url + "/api/v1/logout", timeout=30)


def play(
    k: int, n: int, http: requests.Session, server: Server, attempt_id: str, script: Script, stop: threading.Event, tally: Tally
) -> str:
    cursor, playing, seq = script.baseline, None, 0
    last_sent = 0.0
    url = f"{server.url}/api/v1/login/{attempt_id}/frames"
    while cursor < len(script.frames):
        if stop.is_set():
            return "unfinished"
        wait = last_sent + CAMERA_INTERVAL - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        seq += 1
        data = distinct(script.frames[cursor], f"lg-bench {RUN_TOKEN} c{k} a{n} f{seq}")
        last_sent = time.perf_counter()
        try:
            r = http.post(url, files={"frame": ("frame.jpg", data, "image/jpeg")}, data={"seq": str(seq)}, timeout=60)
        except requests.RequestException as exc:
            with tally.lock:
                tally.statuses["frame:exception"] += 1
                tally.errors.append(f"frame: {exc.__class__.__name__}")
            return "error"
        latency = time.perf_counter() - last_sent
        with tally.lock:
            tally.statuses[f"frame:{r.status_code}"] += 1
            if r.status_code == 200:
                tally.frame_latency.append(latency)
                tally.frames_ok += 1
        if r.status_code == 410:
            return "expired"
        if r.status_code != 200:
            with tally.lock:
                tally.errors.append(f"frame {r.status_code}: {r.text[:160]}")
            return "error"
        body = r.json()
        if body["state"] != "collecting":
            return str(body["state"] if body["state"] == "granted" else f"denied:{body.get('reason')}")
        step = body.get("step")
        cursor += 1
        if step is not None and step != playing:
            playing = step
            seg = script.segments.get(step)
            if seg is not None and not (cursor <= seg[0] <= cursor + 16):
                cursor = seg[0]
    return "clip_ended"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))] * 1000, 1)


def run_load(server: Server, clients: int, seconds: float, username: str, script: Script) -> dict[str, Any]:
    global RUN_TOKEN
    RUN_TOKEN = os.urandom(6).hex()
    tally = Tally()
    stop = threading.Event()
    pids = worker_pids(server.proc.pid)
    cpu0 = cpu_seconds(pids)
    threads = [threading.Thread(target=client_loop, args=(k, server, username, script, stop, tally), daemon=True) for k in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
        time.sleep(0.02)  # not all in the same millisecond
    stop.wait(seconds)
    stop.set()
    for th in threads:
        th.join(90)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(worker_pids(server.proc.pid)) - cpu0
    bad = {s: c for s, c in tally.statuses.items() if s.split(":")[1] not in ("200", "201", "503", "410")}
    finished = sum(c for o, c in tally.outcomes.items() if o == "granted" or o.startswith("denied"))
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "frames_per_s": round(tally.frames_ok / elapsed, 2),
        "frame_latency_ms": {
            "p50": pct(tally.frame_latency, 0.5),
            "p95": pct(tally.frame_latency, 0.95),
            "p99": pct(tally.frame_latency, 0.99),
            "n": len(tally.frame_latency),
        },
        "start_latency_ms": {"p50": pct(tally.start_latency, 0.5), "p95": pct(tally.start_latency, 0.95)},
        "statuses": dict(tally.statuses),
        "errors": sum(bad.values()),
        "error_samples": tally.errors[:10],
        "attempts": {
            "started": tally.started,
            "refused_503": tally.refused,
            "finished": finished,
            "expired": tally.outcomes.get("expired", 0),
            "outcomes": dict(tally.outcomes),
            "retry_after_s": sorted(set(tally.retry_after))[:10],
        },
        "server_cpu_ms_per_frame": round(cpu * 1000 / tally.frames_ok, 1) if tally.frames_ok else None,
        "server_cpu_utilisation": round(cpu / elapsed, 2),
        "worker_rss_mb": rss_mb(worker_pids(server.proc.pid)),
        "worker_pss_mb": pss_mb(worker_pids(server.proc.pid)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, nargs="+", default=[16, 50])
    ap.add_argument("--seconds", type=float, default=60.0, help="per client count")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--video", default="apfol/real2.webm")
    ap.add_argument("--width", type=int, default=DEFAULT_WIDTH)
    ap.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    ap.add_argument("--env", action="append", default=[], help="extra KEY=VALUE for the server (FLASK_* settings)")
    ap.add_argument("--soak", action="store_true", help="also count 'database is locked' in the server log")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", type=Path, default=Path("runs/bench/load.json"))
    args = ap.parse_args(argv)

    script, images, _src = prepare_clip(args.video, args.width)
    extra = dict(kv.split("=", 1) for kv in args.env)
    username = "loaduser"
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'load.sqlite'}"
        prepare_database(url, username, images)
        log = Path(tmp) / "gunicorn.log"
        runs = []
        with gunicorn(url, args.workers, log, extra) as server:
            rss_idle = rss_mb(worker_pids(server.proc.pid))
            pss_idle = pss_mb(worker_pids(server.proc.pid))
            master_rss = rss_mb([server.proc.pid])
            for n in args.clients:
                res = run_load(server, n, args.seconds, username, script)
                runs.append(res)
                print(json.dumps(res), flush=True)
                time.sleep(3)
        text = log.read_text(errors="replace")
        endings = attempt_summary(url)
        result = {
            "benchmark": "load",
            "label": args.label,
            "machine": machine(),
            "setup": {
                "workers": args.workers,
                "database": "sqlite (temporary file)" if args.database_url is None else args.database_url.split("@")[-1],
                "video": args.video,
                "width": args.width,
                "pacing": "one request in flight per client; next frame >= 125 ms after the previous one was sent",
                "server_env": {
                    k: v
                    for k, v in server_env(url, extra).items()
                    if k.startswith(("FLASK_RATE", "FLASK_LOCK", "FLASK_REPLAY", "FLASK_ADMISSION"))
                },
            },
            "healthy_after_s": server.healthy_after_s,
            "worker_rss_mb_idle": rss_idle,
            "worker_pss_mb_idle": pss_idle,
            "master_rss_mb": master_rss,
            "shutdown_s": SHUTDOWN_S[-1] if SHUTDOWN_S else None,
            "runs": runs,
            "attempt_endings": endings,
            "server_log": {
                "database_is_locked": text.count("database is locked"),
                "tracebacks": text.count("Traceback"),
                "worker_timeouts": text.count("WORKER TIMEOUT"),
            },
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("healthy_after_s", "worker_rss_mb_idle", "worker_pss_mb_idle", "shutdown_s", "server_log")}))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

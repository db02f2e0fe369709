"""A gunicorn worker killed in the middle of an attempt loses nothing.

Real gunicorn (gunicorn.conf.py, 2 sync workers) on the test's database: SQLite by default,
PostgreSQL when LIVEGATE_TEST_DATABASE_URL is set (CI runs both). Every state a frame needs is
in the database, committed in one transaction per frame, so killing every worker with SIGKILL
while a frame is being analysed leaves the attempt exactly as it was after the last answered
frame; the master starts new workers and the same attempt goes on to a grant.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from tests.conftest import AppFactory, EnrolledDatabases
from tests.support.frames import jittered_frames
from webapp.db.extensions import db
from webapp.db.models import AttemptFrame, LoginAttempt

REPO = Path(__file__).resolve().parents[2]


def _workers(master: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    out.append(int(entry))
    return out


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, workers: int, old: set[int]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        fresh = set(_workers(proc.pid)) - old
        with contextlib.suppress(requests.RequestException):
            if len(fresh) >= workers and requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"gunicorn not healthy: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def gunicorn(app: Flask, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    env.update(
        {
            "FLASK_SQLALCHEMY_DATABASE_URI": str(app.config["SQLALCHEMY_DATABASE_URI"]),
            "FLASK_LIVENESS_MODEL_DIR": str(app.config["LIVENESS_MODEL_DIR"]),
            "FLASK_SECRET_KEY": "test-secret",
            # The key the enrolled templates were sealed with (tests/conftest.py), not a new one.
            "FLASK_TEMPLATE_KEYS": json.dumps(list(app.config["TEMPLATE_KEYS"])),
            "FLASK_CHALLENGE_STEPS": "[]",  # passive only: a photo of alice gets in
            "FLASK_RATE_LIMIT_ATTEMPTS": "0",
            "FLASK_ADMISSION_MAX_ATTEMPTS": "0",
            "LIVEGATE_BIND": f"127.0.0.1:{port}",
            "LIVEGATE_WORKERS": "2",
            "LIVEGATE_LOG_LEVEL": "warning",
        }
    )
    log = tmp_path / "gunicorn.log"
    gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [gunicorn_bin, "-c", "gunicorn.conf.py", "webapp:create_app()"], cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log, 2, set())
        yield url, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _post(url: str, attempt_id: str, data: bytes, seq: int) -> requests.Response:
    files = {"frame": ("frame.jpg", io.BytesIO(data), "image/jpeg")}
    return requests.post(f"{url}/api/v1/login/{attempt_id}/frames", files=files, data={"seq": str(seq)}, timeout=60)


def _stored(app: Flask, attempt_id: str) -> tuple[int, list[int], int]:
    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == attempt_id))
        assert row is not None
        seqs = list(db.session.scalars(sa.select(AttemptFrame.seq).where(AttemptFrame.attempt_id == row.id).order_by(AttemptFrame.seq)))
        face_frames = int(row.progress["face_frames"])
        db.session.remove()
        return row.frames_received, seqs, face_frames


@pytest.mark.slow
def test_a_worker_killed_mid_attempt_loses_nothing(app_factory: AppFactory, enrolled_db: EnrolledDatabases, tmp_path: Path) -> None:
    app = app_factory(CHALLENGE_STEPS=[])
    enrolled_db.copy_into(app)
    frames = jittered_frames(12, seed=900)
    with gunicorn(app, tmp_path) as (url, proc):
        attempt_id = requests.post(url + "/api/v1/login/start", json={"username": "alice"}, timeout=30).json()["attempt_id"]
        for seq in (1, 2):
            r = _post(url, attempt_id, frames[seq - 1], seq)
            assert r.status_code == 200 and r.json()["state"] == "collecting", r.text
        assert _stored(app, attempt_id) == (2, [1, 2], 2)

        # Kill every worker while frame 3 is being analysed (or just before / after it).
        result: dict[str, object] = {}

        def send() -> None:
            try:
                result["status"] = _post(url, attempt_id, frames[2], 3).status_code
            except requests.RequestException as exc:
                result["error"] = exc

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.05)
        old = set(_workers(proc.pid))
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        sender.join(60)
        _wait_healthy(url, proc, tmp_path / "gunicorn.log", 2, old)

        # Frame 3 was either committed whole (answered or not) or not at all; nothing in between.
        received, seqs, face_frames = _stored(app, attempt_id)
        assert received in (2, 3) and seqs == list(range(1, received + 1)) and face_frames == received
        # The attempt goes on, on the new workers, from exactly where it was.
        answers = []
        for seq, data in enumerate(frames[3:], received + 1):
            r = _post(url, attempt_id, data, seq)
            assert r.status_code == 200, r.text
            answers.append(r.json()["state"])
            if answers[-1] != "collecting":
                break
        assert answers[-1] == "granted", answers
        received_after, seqs_after, _ = _stored(app, attempt_id)
        assert seqs_after == list(range(1, received_after + 1))

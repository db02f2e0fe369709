"""The end-user login API: every status code of the contract, and the decision paths.

Identity and detection are real (dlib on face_recognition's test photos); passive liveness is
the transparent red/blue test model (tests/support/models.py); where a test needs a user who
follows the prompts, the landmark signals are scripted (the geometry has its own tests).

Flows that are attacks (a still photo, repeated or borrowed frames, two faces, an unknown
username, an expired attempt, guessing until the account locks) are tested once, in the attack
suite (tests/attacks/test_attacks.py), with every check these tests used to make of them.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import attempt_row, follow_prompts, post_frame, start
from tests.support.frames import (
    blank_jpeg,
    gif_bytes,
    jittered_frames,
    swap_red_blue,
)
from webapp.db.extensions import db
from webapp.db.models import AttemptFrame, LoginAttempt


def send_all(client: FlaskClient, attempt_id: str, frames: list[bytes]) -> list[dict[str, Any]]:
    bodies = []
    for seq, data in enumerate(frames, 1):
        r = post_frame(client, attempt_id, data, seq)
        assert r.status_code == 200, r.get_json()
        bodies.append(r.get_json())
        if bodies[-1]["state"] != "collecting":
            break
    return bodies


# --- start -------------------------------------------------------------------------------


def test_start_returns_an_attempt_and_a_random_challenge(client: FlaskClient, alice: str) -> None:
    r = start(client)
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) >= {"attempt_id", "challenge", "frame_interval_ms"}
    assert len(body["attempt_id"]) >= 32
    steps = body["challenge"]["steps"]
    assert len(steps) == 2 and len(set(steps)) == 2 and set(steps) <= {"blink", "turn_left", "turn_right"}
    assert body["challenge"]["expires_in"] == 60
    assert start(client).get_json()["attempt_id"] != body["attempt_id"]


def test_unknown_user_gets_the_same_shape(client: FlaskClient, alice: str) -> None:
    known, unknown = start(client, "alice"), start(client, "nobody-here")
    assert known.status_code == unknown.status_code == 201
    k, u = known.get_json(), unknown.get_json()
    assert set(k) == set(u) and set(k["challenge"]) == set(u["challenge"])
    assert len(k["attempt_id"]) == len(u["attempt_id"])


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": "username=alice", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media"),
        ({"json": {"user": "alice"}}, 400, "invalid_request"),
        ({"json": ["alice"]}, 400, "invalid_request"),
        ({"json": {"username": ""}}, 400, "invalid_request"),
        ({"json": {"username": "a" * 65}}, 400, "invalid_request"),
        ({"json": {"username": "al ice<script>"}}, 400, "invalid_request"),
        ({"json": {"username": 42}}, 400, "invalid_request"),
    ],
)
def test_start_rejects_bad_bodies(client: FlaskClient, kwargs: dict[str, Any], status: int, error: str) -> None:
    r = client.post("/api/v1/login/start", **kwargs)
    assert r.status_code == status
    assert r.get_json() == {"error": error, "message": r.get_json()["message"]}


# --- frames: bad input -------------------------------------------------------------------


def _truncated() -> bytes:
    data = jittered_frames(1)[0]
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("data", "mimetype", "status", "error"),
    [
        (b"", "image/jpeg", 400, "bad_frame"),
        (b"this is not an image", "image/jpeg", 400, "bad_frame"),
        (None, "image/jpeg", 400, "bad_frame"),  # truncated JPEG, built at run time
        (gif_bytes(), "image/gif", 415, "unsupported_media"),
        (gif_bytes(), "image/jpeg", 415, "unsupported_media"),  # sniffed, not trusted from the label
        (b"hello", "text/plain", 415, "unsupported_media"),
    ],
    ids=["empty", "text", "truncated", "gif", "gif-labelled-jpeg", "text-part"],
)
def test_bad_frames(client: FlaskClient, alice: str, data: bytes | None, mimetype: str, status: int, error: str) -> None:
    attempt_id = start(client).get_json()["attempt_id"]
    r = post_frame(client, attempt_id, _truncated() if data is None else data, mimetype=mimetype)
    assert r.status_code == status
    body = r.get_json()
    assert body["error"] == error and set(body) == {"error", "message"}
    assert "Traceback" not in body["message"]


def test_frame_must_be_multipart_with_a_frame_field(client: FlaskClient, alice: str) -> None:
    attempt_id = start(client).get_json()["attempt_id"]
    raw = client.post(f"/api/v1/login/{attempt_id}/frames", data=jittered_frames(1)[0], content_type="image/jpeg")
    assert (raw.status_code, raw.get_json()["error"]) == (415, "unsupported_media")
    missing = client.post(f"/api/v1/login/{attempt_id}/frames", data={"seq": "1"}, content_type="multipart/form-data")
    assert (missing.status_code, missing.get_json()["error"]) == (400, "bad_frame")


# The optional `seq` field (shared spec: "client frame counter"; webapp/web/uploads.py
# optional_int): absent or empty means none; an integer is kept as sent (client_seq; the server
# numbers frames itself, in order of arrival); anything else is 400 invalid_request and the
# frame is not taken.


@pytest.mark.parametrize(
    "seq",
    ["abc", "1.5", "0x10", "1e3", " ", "--1", "9" * 5000],
    ids=["text", "decimal", "hex", "exponent", "blank", "two-signs", "5000-digits"],
)
def test_seq_that_is_not_an_integer_is_refused(app: Flask, client: FlaskClient, seq: str) -> None:
    attempt_id = start(client, "nobody-here").get_json()["attempt_id"]
    r = post_frame(client, attempt_id, blank_jpeg(), seq=seq)
    assert r.status_code == 400
    assert r.get_json() == {"error": "invalid_request", "message": "seq must be an integer"}
    row = attempt_row(app, attempt_id)
    assert (row.state, row.frames_received) == ("collecting", 0)


@pytest.mark.slow  # the frame is analysed (dlib face detection)
@pytest.mark.parametrize(
    ("seq", "stored"),
    [(None, None), ("", None), ("7", 7), ("0", 0), ("-1", -1), (" 12 ", 12), (str(2**63 - 1), 2**63 - 1)],
    ids=["absent", "empty", "7", "0", "negative", "spaces", "int64-max"],
)
def test_seq_is_optional_and_kept_as_sent(app: Flask, client: FlaskClient, seq: str | None, stored: int | None) -> None:
    attempt_id = start(client, "nobody-here").get_json()["attempt_id"]
    r = post_frame(client, attempt_id, blank_jpeg(), seq=seq)
    assert (r.status_code, r.get_json()["state"]) == (200, "collecting")
    row = attempt_row(app, attempt_id)
    with app.app_context():
        frames = db.session.execute(sa.select(AttemptFrame.seq, AttemptFrame.client_seq).where(AttemptFrame.attempt_id == row.id)).all()
    assert [tuple(f) for f in frames] == [(1, stored)]


@pytest.mark.slow  # the frame is analysed (dlib face detection) before the value reaches the database
@pytest.mark.parametrize("seq", [str(2**63), "9" * 30], ids=["int64-max+1", "30-digits"])
def test_seq_too_big_to_store_is_refused(client: FlaskClient, seq: str) -> None:
    attempt_id = start(client, "nobody-here").get_json()["attempt_id"]
    r = post_frame(client, attempt_id, blank_jpeg(), seq=seq)
    assert (r.status_code, r.get_json()["error"]) == (400, "invalid_request")


def test_huge_frame_is_refused_before_parsing(client: FlaskClient, alice: str) -> None:
    import io

    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    attempt_id = start(client).get_json()["attempt_id"]
    huge = b"\xff\xd8\xff" + b"\x00" * (3 * 1024 * 1024)
    # Encoded in memory: the test client would otherwise spool it to a temporary file that
    # stays open when the app answers without reading the body (which is the point here).
    boundary, body = encode_multipart({"frame": FileStorage(io.BytesIO(huge), "f.jpg", content_type="image/jpeg")})
    r = client.post(f"/api/v1/login/{attempt_id}/frames", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert (r.status_code, r.get_json()["error"]) == (413, "frame_too_large")


def test_frame_with_too_many_pixels(client: FlaskClient, alice: str) -> None:
    import numpy as np

    from webapp.face.image import encode_jpeg

    attempt_id = start(client).get_json()["attempt_id"]
    big = encode_jpeg(np.zeros((2000, 2400, 3), np.uint8), 30)  # small file, too many pixels
    r = post_frame(client, attempt_id, big)
    assert (r.status_code, r.get_json()["error"]) == (413, "frame_too_large")


def test_unknown_attempt(client: FlaskClient) -> None:
    r = post_frame(client, "no-such-attempt", blank_jpeg())
    assert (r.status_code, r.get_json()["error"]) == (404, "unknown_attempt")


def test_bad_frames_leave_the_attempt_untouched(app: Flask, client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = start(client).get_json()
    attempt_id = body["attempt_id"]
    for data in (b"", b"junk", gif_bytes(), _truncated()):
        assert post_frame(client, attempt_id, data).status_code in (400, 415)
    row = attempt_row(app, attempt_id)
    assert (row.state, row.frames_received) == ("collecting", 0)
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    assert send_all(client, attempt_id, jittered_frames(12))[-1]["state"] == "granted"


# --- frames: decisions -------------------------------------------------------------------


def test_follow_prompts_grants_a_session(app: Flask, client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = start(client).get_json()
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    assert client.get("/api/v1/me").status_code == 401
    bodies = send_all(client, body["attempt_id"], jittered_frames(12))
    final = bodies[-1]
    assert final["state"] == "granted" and final["reason"] is None
    assert final["redirect"] == "/account" and final["progress"] == 1.0
    assert [b["state"] for b in bodies[:-1]] == ["collecting"] * (len(bodies) - 1)
    assert {b["step"] for b in bodies} >= set(body["challenge"]["steps"])  # the client saw each step
    # progress never goes backwards
    assert [b["progress"] for b in bodies] == sorted(b["progress"] for b in bodies)

    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.get_json() == {"username": "alice", "display_name": "Alice Example"}
    page = client.get("/account")
    assert page.status_code == 200 and b"Alice Example" in page.data
    row = attempt_row(app, body["attempt_id"])
    assert row.state == "granted" and row.scores["matched_frames"] >= 3
    # The continuity signature (a thumbnail and the face descriptor) is not kept once decided.
    assert row.progress["prev_signature"] is None and row.progress["prev_signature_t"] > 0

    # single use: the granted attempt takes no more frames
    again = post_frame(client, body["attempt_id"], jittered_frames(1, seed=99)[0])
    assert (again.status_code, again.get_json()["error"]) == (409, "attempt_finished")


def test_logout_revokes_the_session_server_side(client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = start(client).get_json()
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    assert send_all(client, body["attempt_id"], jittered_frames(12))[-1]["state"] == "granted"
    stolen = client.get_cookie("livegate_session")
    assert stolen is not None
    assert client.post("/api/v1/logout").status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    # Replaying the old cookie does not bring the session back.
    client.set_cookie("livegate_session", stolen.value)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/account").status_code == 302


def test_session_id_is_rotated_on_login(client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client.get("/admin/login")  # gets an anonymous session cookie (CSRF token)
    before = client.get_cookie("livegate_session")
    assert before is not None
    body = start(client).get_json()
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    assert send_all(client, body["attempt_id"], jittered_frames(12))[-1]["state"] == "granted"
    after = client.get_cookie("livegate_session")
    assert after is not None and after.value != before.value
    other = client.application.test_client()
    other.set_cookie("livegate_session", before.value)
    assert other.get("/api/v1/me").status_code == 401


def test_another_person_is_denied(client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Denied when the rest of the evidence is in, not on the first frame (that answered, frame
    # by frame, whether a face matches an account: tests/security/test_oracle.py).
    body = start(client).get_json()
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    bodies = send_all(client, body["attempt_id"], jittered_frames(14, photo="biden.jpg"))
    assert [b["state"] for b in bodies[:-1]] == ["collecting"] * (len(bodies) - 1)
    assert (bodies[-1]["state"], bodies[-1]["reason"]) == ("denied", "no_match")


def test_no_face_frames_are_ignored_with_a_prompt(client: FlaskClient, alice: str) -> None:
    attempt_id = start(client).get_json()["attempt_id"]
    r = post_frame(client, attempt_id, blank_jpeg())
    body = r.get_json()
    assert (r.status_code, body["state"]) == (200, "collecting")
    assert "can't see your face" in body["prompt"]


def test_spoof_scores_deny(client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = start(client).get_json()
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    bodies = send_all(client, body["attempt_id"], jittered_frames(12, transform=swap_red_blue))
    assert (bodies[-1]["state"], bodies[-1]["reason"]) == ("denied", "spoof")
    assert "live person" in bodies[-1]["prompt"]
    assert "live" not in {k for b in bodies for k in b if k not in ("state", "prompt", "progress", "step", "reason")}


@pytest.mark.parametrize("app_config", [{"ATTEMPT_MAX_FRAMES": 4}])
def test_frame_cap_ends_the_attempt(client: FlaskClient, alice: str) -> None:
    attempt_id = start(client).get_json()["attempt_id"]
    states = [post_frame(client, attempt_id, blank_jpeg(480 + i)).get_json() for i in range(4)]
    assert [s["state"] for s in states] == ["collecting"] * 3 + ["denied"]
    assert states[-1]["reason"] == "no_face"
    assert post_frame(client, attempt_id, blank_jpeg(500)).status_code == 409


# Parallel frames are a replay signal (tested in the attack suite); here the point is that
# concurrent updates of one attempt by several workers lose nothing, so allow them.
@pytest.mark.parametrize("app_config", [{"REPLAY_MAX_PARALLEL_FRAMES": 100}])
def test_concurrent_frames_of_one_attempt_are_all_counted(app: Flask, alice: str) -> None:
    attempt_id = start(app.test_client()).get_json()["attempt_id"]
    frames = jittered_frames(8, seed=100)
    results: list[int] = []

    def worker(chunk: list[bytes]) -> None:
        c = app.test_client()
        results.extend(post_frame(c, attempt_id, f).status_code for f in chunk)

    threads = [threading.Thread(target=worker, args=(frames[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] * 8
    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == attempt_id))
        seqs = db.session.scalars(sa.select(AttemptFrame.seq).where(AttemptFrame.attempt_id == row.id).order_by(AttemptFrame.seq)).all()
        assert row.frames_received == 8
        assert list(seqs) == list(range(1, 9))
        assert row.progress["face_frames"] == 8


# --- throttling --------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"RATE_LIMIT_ATTEMPTS": 3, "RATE_LIMIT_WINDOW_SECONDS": 60}])
def test_rate_limit_per_client_address(app: Flask, client: FlaskClient, alice: str) -> None:
    assert [start(client, f"user{i}").status_code for i in range(3)] == [201] * 3
    r = start(client, "user9")
    assert (r.status_code, r.get_json()["error"]) == (429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    other_client = app.test_client()
    assert other_client.post("/api/v1/login/start", json={"username": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 201
    with app.app_context():
        from webapp.db.models import AuditEvent

        kinds = db.session.scalars(sa.select(AuditEvent.kind)).all()
        assert "rate_limited" in kinds


def test_cross_site_posts_are_refused(client: FlaskClient, alice: str) -> None:
    r = client.post("/api/v1/login/start", json={"username": "alice"}, headers={"Origin": "https://evil.example"})
    assert (r.status_code, r.get_json()["error"]) == (403, "forbidden")
    same = client.post("/api/v1/login/start", json={"username": "alice"}, headers={"Origin": "http://localhost"})
    assert same.status_code == 201

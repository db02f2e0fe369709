"""No account-existence oracle (issue 11, item 2).

The outside test: with a photo of the victim, the first frame answered `collecting` for an
existing account and `no_match` for a missing one. Now an attempt on an unknown username runs
the same course as a real one, frame by frame (state, prompt, progress, step, pacing), until
the final decision, whose reason is one a real user's failure gets too.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import follow_prompts, post_frame, start
from tests.support.frames import jittered_frames

pytestmark = pytest.mark.slow  # dlib encodings of real photos

ONE_STEP = {"CHALLENGE_STEPS": ["blink"], "CHALLENGE_COUNT": 1}  # the same challenge for both
VISIBLE = ("state", "prompt", "progress", "step", "frame_interval_ms")


def answers(client: FlaskClient, monkeypatch: pytest.MonkeyPatch, username: str, frames: list[bytes]) -> list[dict[str, Any]]:
    r = start(client, username)
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) == {"attempt_id", "challenge", "frame_interval_ms", "max_frames"}
    out = []
    with monkeypatch.context() as m:
        follow_prompts(m, body["challenge"]["steps"])
        for seq, data in enumerate(frames, 1):
            reply = post_frame(client, body["attempt_id"], data, seq)
            assert reply.status_code == 200
            out.append(reply.get_json())
            if out[-1]["state"] != "collecting":
                break
    return out


def visible(seq: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(a[k] for k in VISIBLE) for a in seq]


@pytest.mark.parametrize("app_config", [ONE_STEP])
def test_victims_photo_gets_the_same_answers_for_a_real_and_a_missing_account(
    app: Flask, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = answers(app.test_client(), monkeypatch, "alice", jittered_frames(14, seed=2100))
    missing = answers(app.test_client(), monkeypatch, "mallory", jittered_frames(14, seed=2200))
    assert real[0]["state"] == missing[0]["state"] == "collecting"  # the reported oracle
    # Sparse encoding: a grant waits for an encoded frame, so the owner's attempt may take one
    # frame more than the denial; every answer before the missing account's decision is the same
    # (a grant needs no oracle: whoever gets it is in).
    assert len(missing) > 3 and len(missing) <= len(real) <= len(missing) + 1
    assert visible(real[: len(missing) - 1]) == visible(missing[:-1])
    # The decision: the real account grants its owner; the missing one is denied as a real
    # account is when the face is someone else's.
    assert real[-1]["state"] == "granted"
    assert (missing[-1]["state"], missing[-1]["reason"]) == ("denied", "no_match")


@pytest.mark.parametrize("app_config", [ONE_STEP])
def test_a_strangers_face_gets_identical_answers_to_the_end(app: Flask, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = answers(app.test_client(), monkeypatch, "alice", jittered_frames(14, photo="biden.jpg", seed=2300))
    missing = answers(app.test_client(), monkeypatch, "mallory", jittered_frames(14, photo="biden.jpg", seed=2400))
    assert visible(real) == visible(missing)
    assert [a["state"] for a in real[:-1]] == ["collecting"] * (len(real) - 1)
    assert (real[-1]["state"], real[-1]["reason"]) == (missing[-1]["state"], missing[-1]["reason"]) == ("denied", "no_match")

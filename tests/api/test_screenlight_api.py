"""The screen-light step through the HTTP API: the page is told one colour per answer, and a
face that reflects it is granted while a picture that does not is denied with its own code.

Real detection and identity (dlib, hence slow); the frames are a test photo whose face and
chest are lit by the colour the previous answer told the page (tests/support/light.py), on a
server clock paced like a camera's (tests/support/api.paced_clock).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import attempt_row, follow_prompts, paced_clock, post_frame, start
from tests.support.frames import jittered_jpeg, portrait
from tests.support.light import colour_of, lit
from webapp.challenge import screenlight as sl

LIGHT_ONLY = {"CHALLENGE_STEPS": ["screen_light"], "CHALLENGE_COUNT": 1, "LIGHT_COLOURS": 4}


def stream(client: FlaskClient, attempt_id: str, respond: bool, limit: int = 60) -> list[dict[str, Any]]:
    """Frames of the photo, lit (or not) by whatever the last answer told the page."""
    scene = portrait("obama2.jpg")
    colour = np.zeros(3)
    answers = []
    for seq in range(1, limit + 1):
        rgb = lit(scene, colour, 0.3) if respond else scene
        r = post_frame(client, attempt_id, jittered_jpeg(rgb, seq, max_shift=1.0, max_degrees=0.2), seq)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        answers.append(body)
        colour = colour_of(body["light"])
        if body["state"] != "collecting":
            break
    return answers


@pytest.mark.slow
@pytest.mark.parametrize("app_config", [LIGHT_ONLY])
def test_a_face_lit_by_the_told_colours_is_granted(app: Flask, client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    paced_clock(monkeypatch, 0.06)
    body = start(client).get_json()
    assert body["challenge"]["steps"] == ["screen_light"]
    assert not any(name in str(body) for name in sl.PALETTE)  # the sequence never leaves the server
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    answers = stream(client, body["attempt_id"], respond=True)
    assert answers[-1]["state"] == "granted", answers[-1]
    told = [a["light"] for a in answers if a["light"]]
    assert len({t["colour"] for t in told}) >= 2
    assert all(set(t) == {"colour", "css", "next_in_ms", "transition_ms"} for t in told)  # only now, never the rest
    assert answers[-1]["light"] is None
    row = attempt_row(app, body["attempt_id"])
    assert row.scores["steps_done"] == ["screen_light"]
    assert row.progress["light"]["samples"] and row.progress["light"]["told"]


@pytest.mark.slow
@pytest.mark.parametrize("app_config", [LIGHT_ONLY])
def test_a_picture_that_does_not_reflect_the_colours_is_denied(
    app: Flask, client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paced_clock(monkeypatch, 0.06)
    body = start(client).get_json()
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    answers = stream(client, body["attempt_id"], respond=False)
    final = answers[-1]
    assert (final["state"], final["reason"]) == ("denied", "challenge_failed"), final
    assert "light" in final["prompt"] and final["light"] is None
    row = attempt_row(app, body["attempt_id"])
    assert row.detail is not None and "screen_light" in row.detail
    assert any(code in row.detail for code in sl.FAILURE_CODES), row.detail

"""A model file that fails its check makes the service answer 503 ``unavailable``, never a 500:
here the identity encoder (FACE_ENCODER=onnx), whose file is first opened on the first face
frame or enrollment photo a worker handles when warm-up did not run."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import attempt_row, post_frame, start
from tests.support.frames import jittered_frames
from webapp.runtime.files import CardError


@pytest.fixture
def broken_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise CardError("dlib_resnet_v1.onnx: sha256 0123456789ab does not match its card (fedcba987654)")

    monkeypatch.setattr("webapp.face.engine.shared_encoder", refuse)


@pytest.mark.slow
def test_a_login_frame_gets_503_when_the_identity_encoder_cannot_load(
    app: Flask, client: FlaskClient, alice: str, broken_encoder: None
) -> None:
    body = start(client).get_json()
    r = post_frame(client, body["attempt_id"], jittered_frames(1)[0], 1)
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.get_json()["error"] == "unavailable"
    assert attempt_row(app, body["attempt_id"]).frames_received == 0  # nothing half-recorded
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["models"]["face_encoder"] == "unavailable"

"""The service with the models it ships: real ONNX liveness models, real dlib face models,
real photos (face_recognition's test images)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.api import admin_token, attempt_row, auth, cli_add_user, paced_clock, post_frame, start
from tests.support.faces import face_photo
from tests.support.frames import blank_jpeg, jittered_jpeg, portrait
from webapp.config import DEFAULTS
from webapp.liveness import load_ensemble

pytestmark = pytest.mark.realmodels
MODEL_DIR = Path(DEFAULTS["LIVENESS_MODEL_DIR"])


@pytest.fixture
def real_app(app_factory: AppFactory) -> Flask:
    return app_factory(MODEL_DIR)


@pytest.fixture
def real_client(real_app: Flask) -> FlaskClient:
    return real_app.test_client()


@pytest.fixture
def token(real_app: Flask) -> str:
    return admin_token(real_app.test_cli_runner())


@pytest.fixture
def alice(real_app: Flask) -> None:
    result = cli_add_user(real_app.test_cli_runner())
    assert result.exit_code == 0 and "enrolled 3 of 3" in result.output, result.output


def test_health_reports_the_shipped_models(real_client: FlaskClient) -> None:
    body = real_client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    members = [m["model"] for m in json.loads((MODEL_DIR / "ensemble.json").read_text())["members"]]
    assert set(members) <= set(body["models"])


def test_thirty_frames_of_a_still_photo_are_denied(real_client: FlaskClient, alice: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A still photo never turns, and every challenge drawn from the default catalogue has a
    turn: the first step runs out of time on the server clock (8 s, at a camera's pace) and the
    attempt is denied challenge_failed, whatever the challenge. Nothing else can end it first:
    the frames are never byte-identical nor re-encoded copies (no replay), the photo is not
    swivelled (no planar-motion spoof), and the passive score only decides once every step is
    done."""
    paced_clock(monkeypatch)
    body = start(real_client, "alice").get_json()
    attempt_id, first_step = body["attempt_id"], body["challenge"]["steps"][0]
    frame = portrait("obama2.jpg")
    states = []
    for seq in range(30):
        r = post_frame(real_client, attempt_id, jittered_jpeg(frame, seq), seq + 1)
        if r.status_code != 200:
            states.append((r.status_code, r.get_json()["error"]))
            break
        body = r.get_json()
        states.append((body["state"], body["reason"]))
        if body["state"] != "collecting":
            break
    assert states[-1] == ("denied", "challenge_failed"), states
    detail = attempt_row(real_client.application, attempt_id).detail or ""
    assert detail.startswith(f"step 1 ({first_step}) not done in "), detail
    assert float(detail.split(" not done in ")[1].split(" s")[0]) >= 8.0, detail  # the step's seconds, not frames
    assert real_client.get("/api/v1/me").status_code == 401


def test_admin_verify_and_liveness(real_client: FlaskClient, alice: None, token: str) -> None:
    headers = auth(token)

    def verify(name: str) -> Any:
        data = {"username": "alice", "image": (io.BytesIO(face_photo(name).read_bytes()), name, "image/jpeg")}
        return real_client.post("/api/v1/admin/verify", data=data, headers=headers).get_json()

    assert verify("obama2.jpg")["match"] is True
    other = verify("biden.jpg")
    assert other["match"] is False and other["distance"] > other["tolerance"]

    images = [face_photo("obama2.jpg").read_bytes(), blank_jpeg(), face_photo("biden.jpg").read_bytes()]
    data = {"images": [(io.BytesIO(b), f"{i}.jpg", "image/jpeg") for i, b in enumerate(images)]}
    results = real_client.post("/api/v1/admin/liveness", data=data, headers=headers).get_json()["results"]
    members = set(load_ensemble(MODEL_DIR).models)
    assert [r["index"] for r in results] == [0, 1, 2]
    assert results[1]["decision"] == "no_face"
    for r in (results[0], results[2]):
        assert r["decision"] in ("live", "spoof") and 0.0 <= r["live_score"] <= 1.0
        assert set(r["models"]) and all(0.0 <= v <= 1.0 for v in r["models"].values())
        assert set(r["models"]) | set(r["abstained"]) == members

    # Scored as alice's login frames: her enrolled embeddings let every member vote.
    data = {"username": "alice", "images": [(io.BytesIO(images[0]), "0.jpg", "image/jpeg")]}
    body = real_client.post("/api/v1/admin/liveness", data=data, headers=headers).get_json()
    assert body["username"] == "alice"
    (result,) = body["results"]
    assert set(result["models"]) == members and result["abstained"] == []

    data = {"username": "nobody", "images": [(io.BytesIO(images[0]), "0.jpg", "image/jpeg")]}
    assert real_client.post("/api/v1/admin/liveness", data=data, headers=headers).status_code == 404

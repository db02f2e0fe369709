"""Admin JSON API: authentication, users, enrollment, attempts, verify, liveness."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import ADMIN_PASSWORD, admin_token, auth, csrf_of, post_frame, start
from tests.support.faces import face_photo
from tests.support.frames import (
    blank_jpeg,
    face_crop,
    gif_bytes,
    jittered_jpeg,
    noisy_jpeg,
    photo_rgb,
    portrait,
    side_by_side,
    swap_red_blue,
)
from tests.support.models import expected_score
from webapp.face import CropSpec, FaceEngine, crop_face
from webapp.face.image import encode_jpeg


@pytest.fixture
def token(app: Flask, runner: Any) -> str:
    return admin_token(runner)


# A third photo of alice's man for the account minimum (ENROLL_MIN_FRAMES, 3); obama2.jpg stays
# out of every enrollment, as the photo the tests sign in and verify with.
def third() -> bytes:
    return face_photo("obama_partial_face2.jpg").read_bytes()


def files(field: str, blobs: list[bytes]) -> dict[str, Any]:
    return {field: [(io.BytesIO(b), f"img{i}.jpg", "image/jpeg") for i, b in enumerate(blobs)]}


def create_alice(client: FlaskClient, token: str) -> None:
    r = client.post("/api/v1/admin/users", json={"username": "alice", "display_name": "Alice"}, headers=auth(token))
    assert r.status_code == 201, r.get_json()


def enroll_alice(client: FlaskClient, token: str, photo_bytes: dict[str, bytes]) -> dict[str, Any]:
    create_alice(client, token)
    r = client.post(
        "/api/v1/admin/users/alice/faces",
        data=files("images", [photo_bytes[n] for n in ("obama.jpg", "obama3.jpg")] + [third()]),
        headers=auth(token),
    )
    assert r.status_code == 201
    return r.get_json()


# --- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users/alice/faces"),
        ("DELETE", "/api/v1/admin/users/alice/faces"),
        ("DELETE", "/api/v1/admin/users/alice"),
        ("GET", "/api/v1/admin/attempts"),
        ("POST", "/api/v1/admin/verify"),
        ("POST", "/api/v1/admin/liveness"),
        ("POST", "/api/v1/admin/enrollment/preview"),
    ],
)
def test_admin_endpoints_need_authentication(client: FlaskClient, token: str, method: str, path: str) -> None:
    r = client.open(path, method=method)
    assert (r.status_code, r.get_json()["error"]) == (401, "unauthorized")
    bad = client.open(path, method=method, headers=auth("lg_not-a-real-token"))
    assert bad.status_code == 401


def test_token_is_stored_hashed(app: Flask, token: str) -> None:
    import sqlalchemy as sa

    from webapp.db.extensions import db
    from webapp.db.models import ApiToken

    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken))
        assert row is not None and token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64


def test_admin_session_needs_csrf_for_writes(client: FlaskClient, token: str) -> None:
    page = client.get("/admin/login")
    csrf = csrf_of(page.data)
    r = client.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": csrf})
    assert r.status_code == 302
    assert client.get("/api/v1/admin/users").status_code == 200  # reads need no token
    no_csrf = client.post("/api/v1/admin/users", json={"username": "bob", "display_name": "Bob"})
    assert (no_csrf.status_code, no_csrf.get_json()["error"]) == (403, "csrf_failed")
    csrf = csrf_of(client.get("/admin/").data)
    ok = client.post("/api/v1/admin/users", json={"username": "bob", "display_name": "Bob"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


# --- users and enrollment ----------------------------------------------------------------


def test_create_list_and_conflict(client: FlaskClient, token: str) -> None:
    create_alice(client, token)
    again = client.post("/api/v1/admin/users", json={"username": "ALICE ", "display_name": "Other"}, headers=auth(token))
    assert (again.status_code, again.get_json()["error"]) == (409, "user_exists")
    bad = client.post("/api/v1/admin/users", json={"username": "alice2"}, headers=auth(token))
    assert (bad.status_code, bad.get_json()["error"]) == (400, "invalid_request")
    users = client.get("/api/v1/admin/users", headers=auth(token)).get_json()["users"]
    assert {u["username"]: u["templates"] for u in users} == {"alice": 0, "root": 0}


@pytest.mark.slow  # dlib: the images are analysed
def test_enroll_reports_each_rejected_image(client: FlaskClient, token: str, photo_bytes: dict[str, bytes]) -> None:
    create_alice(client, token)
    tiny = encode_jpeg(np.ascontiguousarray(face_crop(photo_rgb("obama.jpg"), 130, 2.0)))
    images = [
        photo_bytes["obama.jpg"],  # 0 good
        blank_jpeg(),  # 1 no face
        noisy_jpeg(side_by_side(photo_rgb("obama.jpg"), photo_rgb("biden.jpg")), 0),  # 2 two faces
        b"not an image",  # 3 bad image
        gif_bytes(),  # 4 unsupported format
        tiny,  # 5 face too small
        photo_bytes["biden.jpg"],  # 6 another person than image 0
        photo_bytes["obama3.jpg"],  # 7 good
        third(),  # 8 good
    ]
    r = client.post("/api/v1/admin/users/alice/faces", data=files("images", images), headers=auth(token))
    assert r.status_code == 201
    body = r.get_json()
    assert body["enrolled"] == 3
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [
        (1, "no_face"),
        (2, "multiple_faces"),
        (3, "bad_image"),
        (4, "bad_image"),
        (5, "low_quality"),
        (6, "different_person"),
    ]
    users = client.get("/api/v1/admin/users", headers=auth(token)).get_json()["users"]
    assert {u["username"]: u["templates"] for u in users}["alice"] == 3


@pytest.mark.slow  # dlib: the images are analysed
def test_uploads_meet_the_account_minimum_then_top_up_singly(client: FlaskClient, token: str, photo_bytes: dict[str, bytes]) -> None:
    """The CLI's minimum (tests/test_cli.py): a new account needs 3 good photos in one upload;
    nothing of a short upload is kept; an account that holds 3 takes one more, or none (201)."""
    create_alice(client, token)
    two = client.post("/api/v1/admin/users/alice/faces", data=files("images", [photo_bytes["obama.jpg"], third()]), headers=auth(token))
    assert (two.status_code, two.get_json()["error"], two.get_json()["needed"]) == (422, "not_enough_good_images", 3)
    assert two.get_json()["enrolled"] == 0 and "Need at least 3 good images" in two.get_json()["message"]
    assert [(x["index"], x["reason"]) for x in two.get_json()["rejected"]] == [(None, "not_enough_good_images")]
    three = files("images", [photo_bytes["obama.jpg"], photo_bytes["obama3.jpg"], third()])
    assert client.post("/api/v1/admin/users/alice/faces", data=three, headers=auth(token)).get_json()["enrolled"] == 3
    one = client.post("/api/v1/admin/users/alice/faces", data=files("images", [photo_bytes["obama.jpg"]]), headers=auth(token))
    assert (one.status_code, one.get_json()["enrolled"]) == (201, 1)
    bad = client.post("/api/v1/admin/users/alice/faces", data=files("images", [blank_jpeg()]), headers=auth(token))
    assert (bad.status_code, bad.get_json()["enrolled"], len(bad.get_json()["rejected"])) == (201, 0, 1)


@pytest.mark.slow  # dlib: the images are analysed
def test_webcam_enrollment_needs_three_good_frames(client: FlaskClient, token: str) -> None:
    create_alice(client, token)
    frames = [jittered_jpeg(portrait("obama2.jpg"), i) for i in range(2)] + [blank_jpeg()] * 3
    data = {**files("images", frames), "source": "webcam"}
    r = client.post("/api/v1/admin/users/alice/faces", data=data, headers=auth(token))
    assert (r.status_code, r.get_json()["error"]) == (422, "not_enough_good_images")
    assert r.get_json()["enrolled"] == 0
    frames = [jittered_jpeg(portrait("obama2.jpg"), i) for i in range(3)]
    r = client.post("/api/v1/admin/users/alice/faces", data={**files("images", frames), "source": "webcam"}, headers=auth(token))
    assert (r.status_code, r.get_json()["enrolled"]) == (201, 3)


PREVIEW = "/api/v1/admin/enrollment/preview"


def _preview(client: FlaskClient, data: bytes, token: str, mimetype: str = "image/jpeg") -> Any:
    return client.post(PREVIEW, data={"frame": (io.BytesIO(data), "preview.jpg", mimetype)}, headers=auth(token))


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"not an image", 400, "bad_frame"),
        (b"GIF89a" + b"\0" * 40, 400, "bad_frame"),
        (None, 400, "bad_frame"),  # no frame field
        ("json", 415, "unsupported_media"),
    ],
)
def test_enrollment_preview_refuses_bad_input_with_json(client: FlaskClient, token: str, body: Any, status: int, error: str) -> None:
    if body is None:
        r = client.post(PREVIEW, data={"other": "x"}, headers=auth(token), content_type="multipart/form-data")
    elif body == "json":
        r = client.post(PREVIEW, json={"frame": "x"}, headers=auth(token))
    else:
        r = _preview(client, body, token)
    assert (r.status_code, r.get_json()["error"]) == (status, error), r.get_json()


def test_enrollment_preview_refuses_an_unsupported_format_and_a_huge_frame(client: FlaskClient, token: str) -> None:
    assert _preview(client, gif_bytes(), token, "image/gif").status_code == 415  # the part's label
    gif = _preview(client, gif_bytes(), token)  # labelled JPEG, but a GIF
    assert (gif.status_code, gif.get_json()["error"]) == (415, "unsupported_media")
    r = _preview(client, b"\xff\xd8" + b"\0" * (2 * 1024 * 1024 + 10), token)  # beyond FRAME_MAX_BYTES
    assert (r.status_code, r.get_json()["error"]) == (413, "frame_too_large")


def test_enrollment_preview_from_a_session_needs_the_csrf_token(client: FlaskClient, token: str) -> None:
    csrf = csrf_of(client.get("/admin/login").data)
    assert client.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD, "csrf_token": csrf}).status_code == 302
    form = {"frame": (io.BytesIO(b"not an image"), "p.jpg", "image/jpeg")}
    no_csrf = client.post(PREVIEW, data=form)
    assert (no_csrf.status_code, no_csrf.get_json()["error"]) == (403, "csrf_failed")
    csrf = csrf_of(client.get("/admin/").data)
    form = {"frame": (io.BytesIO(b"not an image"), "p.jpg", "image/jpeg")}
    assert client.post(PREVIEW, data=form, headers={"X-CSRF-Token": csrf}).get_json()["error"] == "bad_frame"  # past the CSRF check


@pytest.mark.slow  # dlib: the frames are searched for faces
def test_enrollment_preview_hints_on_real_frames(client: FlaskClient, token: str) -> None:
    """The real detector on webcam-like frames: a good face fits the oval and is ready; the
    far, dark, two-face and empty frames get the sign-in's hint codes. No template is stored."""
    good = _preview(client, jittered_jpeg(portrait("obama2.jpg"), 0), token).get_json()
    assert good == {"faces": 1, "hints": [], "face_fits": True, "ready": True}
    far = np.full((480, 640, 3), 120, np.uint8)  # the face box about 0.15 of the frame's width
    far[135:345, 215:425] = face_crop(photo_rgb("obama2.jpg"), size=210, scale=2.6)
    cases = {
        "far": (encode_jpeg(far), "move_closer"),
        "dark": (encode_jpeg((portrait("obama2.jpg") * 0.12).astype(np.uint8)), "too_dark"),
        "two faces": (noisy_jpeg(side_by_side(photo_rgb("obama.jpg"), photo_rgb("biden.jpg")), 0), "multiple_faces"),
        "empty": (blank_jpeg(), "no_face"),
    }
    for name, (data, hint) in cases.items():
        body = _preview(client, data, token).get_json()
        assert body["hints"][:1] == [hint] and body["ready"] is False, (name, body)
    users = client.get("/api/v1/admin/users", headers=auth(token)).get_json()["users"]
    assert all(u["templates"] == 0 for u in users)


def test_enroll_unknown_user_and_no_images(client: FlaskClient, token: str) -> None:
    r = client.post("/api/v1/admin/users/ghost/faces", data=files("images", [blank_jpeg()]), headers=auth(token))
    assert (r.status_code, r.get_json()["error"]) == (404, "unknown_user")
    create_alice(client, token)
    r = client.post("/api/v1/admin/users/alice/faces", data={"source": "upload"}, headers=auth(token), content_type="multipart/form-data")
    assert (r.status_code, r.get_json()["error"]) == (400, "invalid_request")


@pytest.mark.slow  # dlib: the images are analysed
def test_delete_faces_then_user(client: FlaskClient, token: str, photo_bytes: dict[str, bytes]) -> None:
    enroll_alice(client, token, photo_bytes)
    assert client.delete("/api/v1/admin/users/alice/faces", headers=auth(token)).status_code == 204
    users = {u["username"]: u["templates"] for u in client.get("/api/v1/admin/users", headers=auth(token)).get_json()["users"]}
    assert users["alice"] == 0
    assert client.delete("/api/v1/admin/users/alice", headers=auth(token)).status_code == 204
    assert client.delete("/api/v1/admin/users/alice", headers=auth(token)).status_code == 404
    assert client.delete("/api/v1/admin/users/root", headers=auth(token)).status_code == 400  # not yourself


# --- attempts, verify, liveness ----------------------------------------------------------


@pytest.mark.slow  # dlib: the images are analysed
def test_attempts_list_shows_scores_to_admins_only(client: FlaskClient, token: str, photo_bytes: dict[str, bytes]) -> None:
    enroll_alice(client, token, photo_bytes)
    attempt_id = start(client, "alice").get_json()["attempt_id"]
    end_user_view = post_frame(client, attempt_id, jittered_jpeg(portrait("obama2.jpg"), 1)).get_json()
    assert "scores" not in end_user_view and "distance" not in str(end_user_view)
    start(client, "nobody")
    listing = client.get("/api/v1/admin/attempts?username=alice&limit=5", headers=auth(token)).get_json()["attempts"]
    assert len(listing) == 1
    a = listing[0]
    assert a["username"] == "alice" and a["client_addr"] == "127.0.0.1" and a["decision"] == "collecting"
    assert a["scores"]["matched_frames"] == 1 and 0 < a["scores"]["best_distance"] < 0.5
    assert a["scores"]["live_mean"] is not None
    everything = client.get("/api/v1/admin/attempts", headers=auth(token)).get_json()["attempts"]
    assert {x["username"] for x in everything} == {"alice", "nobody"}
    detail = client.get(f"/api/v1/admin/attempts/{attempt_id}", headers=auth(token)).get_json()
    assert detail["frame_log"][0]["outcome"] == "ok" and "distance" in detail["frame_log"][0]["signals"]
    assert client.get("/api/v1/admin/attempts?limit=abc", headers=auth(token)).status_code == 400


@pytest.mark.slow  # dlib: the images are analysed
def test_verify_matches_the_same_person_only(client: FlaskClient, token: str, photo_bytes: dict[str, bytes]) -> None:
    enroll_alice(client, token, photo_bytes)

    def verify(image: bytes, username: str = "alice") -> Any:
        return client.post("/api/v1/admin/verify", data={"username": username, **files("image", [image])}, headers=auth(token))

    same = verify(photo_bytes["obama2.jpg"]).get_json()
    assert same["match"] is True and same["distance"] < same["tolerance"] == 0.5
    other = verify(photo_bytes["biden.jpg"]).get_json()
    assert other["match"] is False and other["distance"] > 0.6
    assert verify(blank_jpeg()).get_json()["error"] == "no_face"
    two = verify(noisy_jpeg(side_by_side(photo_rgb("obama.jpg"), photo_rgb("biden.jpg")), 0))
    assert (two.status_code, two.get_json()["error"]) == (400, "multiple_faces")
    assert verify(b"junk").get_json()["error"] == "bad_image"
    assert verify(photo_bytes["obama2.jpg"], "ghost").status_code == 404


@pytest.mark.slow  # dlib: the images are analysed
def test_liveness_scores_each_image_like_a_login_frame(client: FlaskClient, token: str) -> None:
    live_frame = portrait("obama2.jpg")
    images = [encode_jpeg(live_frame, 95), blank_jpeg(), encode_jpeg(swap_red_blue(live_frame), 95), b"junk"]
    r = client.post("/api/v1/admin/liveness", data=files("images", images), headers=auth(token))
    assert r.status_code == 200
    results = r.get_json()["results"]
    assert [x["index"] for x in results] == [0, 1, 2, 3]
    assert [x["decision"] for x in results] == ["live", "no_face", "spoof", "bad_image"]
    assert set(results[0]["models"]) == {"redblue"}
    # The score is the model's formula on the service's own crop of that frame.
    from webapp.face.image import ImageLimits, decode_image

    decoded = decode_image(images[0], ImageLimits(10**7, 10**7, 10**4))
    box = FaceEngine().detect(decoded)[0]
    assert results[0]["live_score"] == pytest.approx(expected_score(crop_face(decoded, box, CropSpec(64, 1.2))), abs=1e-4)

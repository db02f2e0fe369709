"""Configuration defaults. Every threshold, limit and policy knob of the service lives here.

Override order (later wins): these defaults -> ``instance/config.py`` -> the test config passed
to ``create_app`` -> ``FLASK_*`` environment variables (``FLASK_IDENTITY_TOLERANCE=0.45``;
values are parsed as JSON when they look like JSON, so lists and numbers work).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent

DEFAULTS: dict[str, Any] = {
    # --- storage ---------------------------------------------------------------------------
    # None = SQLite file "livegate.sqlite" in the instance folder (set in create_app). Any
    # SQLAlchemy URL works here (PostgreSQL for several machines is on the roadmap).
    "SQLALCHEMY_DATABASE_URI": None,
    # Where the ONNX liveness models and their cards live (a directory path).
    "LIVENESS_MODEL_DIR": str(PACKAGE_DIR / "assets" / "models"),
    # Check each model file's sha256 against its card at start-up.
    "LIVENESS_VERIFY_MODELS": True,
    # The context detector (RetinaFace, ``webapp/assets/detector``) that frames the crops of the
    # liveness members trained on its boxes (crop method "silentface" in their cards). Loaded only
    # when the ensemble has such a member.
    "CONTEXT_DETECTOR_DIR": str(PACKAGE_DIR / "assets" / "detector"),
    # Load the dlib and ONNX models inside create_app. Off by default so CLI commands stay
    # fast; gunicorn.conf.py warms each worker up instead (never in the master: onnxruntime
    # imported before fork makes workers hang on shutdown, see shared/notes/stack.md).
    "PRELOAD_MODELS": False,
    # --- identity (decision policy 1) ------------------------------------------------------
    # Stricter than face_recognition's 0.6: strangers matching is the top complaint of face
    # login systems. Measured on face_recognition's test photos: same person 0.38, other 0.85.
    "IDENTITY_TOLERANCE": 0.5,
    # A frame farther than this from every template shows someone else and ends the attempt;
    # between the two thresholds a frame is inconclusive (blur, angle) and simply not counted.
    "IDENTITY_MISMATCH_DISTANCE": 0.6,
    "IDENTITY_MIN_MATCHED_FRAMES": 3,
    # --- passive liveness (decision policy 2) ----------------------------------------------
    # None = the fused threshold written in the shipped ensemble card.
    "LIVENESS_THRESHOLD": None,
    # The attempt-level score is the mean over at least this many scored frames.
    "LIVENESS_MIN_FRAMES": 5,
    # --- active liveness (decision policy 3) -----------------------------------------------
    # Catalogue the server draws from (CSPRNG), and how many steps per attempt. An empty
    # catalogue turns active liveness off (passive-only mode; never the default).
    "CHALLENGE_STEPS": ["blink", "turn_left", "turn_right"],
    "CHALLENGE_COUNT": 2,
    # ("closer" is available too; it adds order randomness but a photo brought closer passes it.)
    # Frames with a face at the start that set the user's own neutral eye opening and pose.
    "CHALLENGE_BASELINE_FRAMES": 3,
    # A step not completed within this many seconds of the server clock fails the attempt
    # (challenge_failed). Time, not frames: the page's pace (about 8 frames a second, faster as
    # the server gets faster) must not shorten what a person gets to turn and come back; 8 s is
    # three times a deliberate turn-and-return, and a still photo still ends inside the 60 s TTL.
    "CHALLENGE_STEP_MAX_SECONDS": 8.0,
    "BLINK_STEP_MAX_SECONDS": 8.0,
    # ... and within this many face frames, whatever the clock says: a stream faster than any
    # camera (10 fps x 8 s) cannot buy itself more tries.
    "CHALLENGE_STEP_MAX_FRAMES": 80,
    "BLINK_STEP_MAX_FRAMES": 80,
    # Blink: the learned detector (a window of eye openings, ONNX, webapp/assets/blink) at
    # BLINK_THRESHOLD, OR (BLINK_RULE) a frame below BLINK_CLOSED_RATIO x the user's open-eye
    # ratio followed by one above BLINK_REOPEN_RATIO x it. Measured on the shared live clips
    # streamed at 4-10 fps (catchable recall / false blinks per minute): detector at the card's
    # 0.89: 0.90 / 0.31 live; at 0.73: 0.96 / 0.70 live, 3.8 hand-held photo, 4.4 tilted photo;
    # with the 0.70 rule: 0.98 / 1.9 live, 5.4 hand-held, 7.3 tilted. A moving photo "blinks"
    # with any of them (landmarks wobble): the turns and the planar-motion cue stop photos,
    # and every pair drawn from the default catalogue contains a turn. The detector alone
    # missed real blinks streamed by Chromium from the shared videos 1 run in 10.
    # BLINK_MODEL_DIR None: the rule alone.
    "BLINK_MODEL_DIR": str(PACKAGE_DIR / "assets" / "blink"),
    "BLINK_THRESHOLD": 0.73,  # None = the card's
    "BLINK_RULE": True,
    "BLINK_CLOSED_RATIO": 0.70,
    "BLINK_REOPEN_RATIO": 0.9,
    # Turns: head yaw (degrees, from solvePnP on landmarks) to count as turned, and back.
    "TURN_YAW_DEGREES": 18.0,
    "TURN_RETURN_DEGREES": 8.0,
    # A real turn passes through intermediate poses: the step counts only when a frame between
    # TURN_PARTIAL_DEGREES and TURN_YAW_DEGREES was seen on the way out or back. A slideshow of a
    # frontal and a turned photo jumps straight across; the user is asked to turn again, slowly.
    # Above TURN_RETURN_DEGREES, so one frame cannot be both "in between" and "back": solvePnP
    # reads jittered frontal photos at -5 to +7 degrees (ml/studies/README.md, prompted logins),
    # and at 6 a slideshow passed a turn with such a frame.
    "TURN_PARTIAL_DEGREES": 10.0,
    # Closer: face scale (inter-ocular distance) vs baseline, held for CLOSER_FRAMES frames.
    "CLOSER_RATIO": 1.2,
    "CLOSER_FRAMES": 2,
    "CLOSER_MAX_YAW": 12.0,
    # Screen light (step "screen_light", webapp/challenge/screenlight.py): the page fills the
    # screen around the camera view with a colour sequence the server drew (CSPRNG) and tells one
    # colour at a time; the face's colour relative to the background must follow it. Opt-in (add
    # "screen_light" to CHALLENGE_STEPS): the simulation (ml/studies/README.md, screen light) rejects
    # 84 % of live steps at 1000 lux with a laptop at arm's length (22 % at 300 lux), far above
    # the 1 % a default may add.
    # LIGHT_COLOURS segments of LIGHT_MIN_SECONDS-LIGHT_MAX_SECONDS each (photosensitivity: at most
    # 3 changes a second, settings refuse a shorter minimum; the page fades over
    # LIGHT_TRANSITION_MS). The step's time budget is the longest sequence plus 1 s (or
    # CHALLENGE_STEP_MAX_SECONDS if longer); settings refuse a sequence over half the attempt TTL.
    "LIGHT_COLOURS": 6,
    "LIGHT_PALETTE": ["red", "green", "blue", "cyan", "magenta", "yellow"],
    "LIGHT_MIN_SECONDS": 0.8,
    "LIGHT_MAX_SECONDS": 1.3,
    "LIGHT_TRANSITION_MS": 300,
    # Told -> reflection in a received frame: the answer's trip back, the page's repaint, the
    # camera's latency and the next frame's upload; searched on a 50 ms grid from 0 to this.
    "LIGHT_MAX_LAG_MS": 500,
    # Frames outside the fades needed for a judgement, and the judgement: pooled partial
    # correlation of the face/background log ratio with the shown colour, and its slope (log
    # change for a fully lit channel). A face at least this bright (sRGB skin level) with no
    # response is told the room is too bright.
    "LIGHT_MIN_FRAMES": 8,
    "LIGHT_MIN_CORRELATION": 0.7,  # simulated attacks accepted 0.7-3.6 % at 0.7, 5-16 % at 0.5
    "LIGHT_MIN_RESPONSE": 0.01,
    # "The background responds less than the face": at least this share of the face's own
    # log change must remain in the face/background ratio (a tint of the whole picture: ~4 %).
    "LIGHT_MIN_OWN_SHARE": 0.5,
    # Skin level of the live clips: p50 133, p95 154 (sRGB luma); above this, no response reads
    # "too bright".
    "LIGHT_BRIGHT_FACE_LEVEL": 160.0,
    # Face-track continuity between consecutive face frames (inter-ocular distances = IOD):
    # a real head moves at most this fast; a jump resets the current step, and more than
    # TRACK_MAX_BREAKS jumps fail the attempt. Calibrated on the shared live videos.
    "TRACK_MAX_SPEED_IOD": 4.0,
    "TRACK_MAX_SHIFT_IOD": 1.5,
    "TRACK_MAX_SCALE_SPEED": 2.0,
    "TRACK_MAX_BREAKS": 2,
    # Continuity of scene, pose and face between consecutive face frames (challenge/continuity.py:
    # background thumbnail, yaw/pitch speed on the server clock, face-descriptor distance).
    # Calibrated on the shared live videos at 4-10 fps: 0 of 17,864 live frame pairs break; a
    # break resets the current step like a track jump, and more than CONTINUITY_MAX_BREAKS
    # breaks deny the attempt (spoof). On synthetic slideshows 9.9 % of photo switches break
    # a cue: a safe, weak signal (ml/studies/README.md); the turn step's intermediate-pose
    # rule is what stops a two-photo slideshow.
    "CONTINUITY_CHECK": True,
    "CONTINUITY_MAX_BREAKS": 2,
    # Planar motion: a photo or screen turned in front of the camera moves like a plane (one
    # homography explains its landmarks); a real head does not (parallax). An attempt whose
    # turned frames (>= PLANAR_MIN_TURN_DEGREES from the first frame) are mostly planar
    # (unexplained share <= PLANAR_MAX_UNEXPLAINED) is denied as spoof. Measured: 0 of 116
    # live attempts flagged, 41 of 42 photo-turn attacks (ml/blink/README.md).
    "PLANAR_CHECK": True,
    "PLANAR_MIN_TURN_DEGREES": 15.0,
    "PLANAR_MIN_MOTION": 0.02,
    "PLANAR_MAX_UNEXPLAINED": 0.55,
    "PLANAR_MIN_TURNED_FRAMES": 2,
    "PLANAR_MAX_PLANAR_SHARE": 0.5,
    # A second face must stay in view this long (server clock) before it denies the attempt
    # (multiple_faces): someone passing behind the user, or one spurious detection, does not.
    # Frames with several faces never count as evidence. The frame cap bounds a fast stream.
    "MULTIPLE_FACES_GRACE_SECONDS": 2.0,
    "MULTIPLE_FACES_GRACE_FRAMES": 20,  # 10 fps x the grace
    # --- attempts --------------------------------------------------------------------------
    "ATTEMPT_TTL_SECONDS": 60,
    "ATTEMPT_MAX_FRAMES": 150,
    "FRAME_INTERVAL_MS": 120,  # suggested client pacing, returned by login/start and each frame
    # During a blink step the page is asked for a burst (next frame as soon as the answer
    # arrives): a blink lasts 100-400 ms, and sampling it twice as often is what catches it.
    "BLINK_FRAME_INTERVAL_MS": 0,
    # Byte-identical frames tolerated within one attempt before it ends as `replay` (a live
    # camera never repeats a JPEG byte for byte; a frozen canvas can, once or twice).
    "REPLAY_MAX_DUPLICATE_FRAMES": 2,
    # Re-encoded copies of earlier frames (perceptual hash + block fingerprint, webapp/replay/hashes.py),
    # compared with this attempt's frames and those of the same username's last
    # REPLAY_LOOKBACK_ATTEMPTS attempts. Measured: 0 of 7,134 live frames flagged; a re-sent
    # frame is caught 36 % of the time, so a replay of 20 frames trips the count 99 % of times.
    "REPLAY_MAX_NEAR_DUPLICATE_FRAMES": 2,
    "REPLAY_LOOKBACK_ATTEMPTS": 5,
    "NEAR_DUP_PHASH": 8,
    "NEAR_DUP_DHASH": 8,
    "NEAR_DUP_FINGERPRINT": 0.3,
    # Frames that arrive before the previous frame of the attempt was answered (the page keeps
    # one request in flight): beyond this many the stream has no trustworthy order -> replay.
    "REPLAY_MAX_PARALLEL_FRAMES": 2,
    # --- throttling (decision policy: throttling) ------------------------------------------
    # Consecutive failed attempts on one account that lock it, and for how long.
    "LOCKOUT_THRESHOLD": 5,
    "LOCKOUT_SECONDS": 900,
    # Attempts started per client address per window. 0 disables a limit.
    "RATE_LIMIT_ATTEMPTS": 30,
    "RATE_LIMIT_WINDOW_SECONDS": 300,
    # --- images ----------------------------------------------------------------------------
    "FRAME_MAX_BYTES": 2 * 1024 * 1024,
    "FRAME_MAX_SIDE": 1920,
    "FRAME_MAX_PIXELS": 1920 * 1080,
    "ENROLL_MAX_BYTES": 12 * 1024 * 1024,
    "ENROLL_MAX_SIDE": 8000,
    "ENROLL_MAX_PIXELS": 40_000_000,
    "ENROLL_MAX_IMAGES": 20,
    # Whole-request cap enforced by Werkzeug before any view runs (413).
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    # --- face detection and quality --------------------------------------------------------
    "FACE_DETECT_MAX_SIDE": 480,
    "FACE_DETECT_MIN_SIDE": 200,
    "FACE_DETECT_UPSAMPLE": 0,
    "FACE_MIN_PX": 40,  # faces smaller than this are ignored (background faces, noise)
    "ENROLL_MIN_FACE_PX": 80,
    "ENROLL_MIN_SHARPNESS": 40.0,
    "ENROLL_BRIGHTNESS_RANGE": [40.0, 220.0],
    "ENROLL_MIN_FRAMES": 3,  # webcam enrollment needs at least this many good frames
    # --- sessions --------------------------------------------------------------------------
    "SESSION_LIFETIME_SECONDS": 8 * 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Set True behind HTTPS (compose/production); http://127.0.0.1 needs it False.
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "livegate_session",
    # --- misc ------------------------------------------------------------------------------
    # Number of reverse proxies whose X-Forwarded-For is trusted for the client address.
    "TRUSTED_PROXIES": 0,
    "ONNX_THREADS": 1,
}

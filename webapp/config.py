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
    # None = the DATABASE_URL environment variable when set (postgresql://user:pw@host/db for
    # several workers or machines; served with psycopg 3), else the SQLite file
    # "livegate.sqlite" in the instance folder (webapp/db/engine.py).
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
    # Sparse encoding (webapp/login/identity.py): the 128-d descriptor (about 110 ms of CPU with
    # the installed dlib, 70 % of a frame's cost) is computed only on the frames that need it:
    # the first face frame of each unbroken face track, one face frame drawn by CSPRNG among the
    # next IDENTITY_RANDOM_FRAME_SPAN after the baseline, and the frame a grant is decided on;
    # face-track continuity binds the frames in between to the same person. False: every frame.
    "IDENTITY_SPARSE_ENCODING": True,
    "IDENTITY_RANDOM_FRAME_SPAN": 24,  # face frames (3 s at 8 fps): a challenge usually takes 2-6 s
    # --- passive liveness (decision policy 2) ----------------------------------------------
    # None = the fused threshold written in the shipped ensemble card.
    "LIVENESS_THRESHOLD": None,
    # The attempt-level score is the mean over at least this many scored frames.
    "LIVENESS_MIN_FRAMES": 10,
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
    # "Back" is within TURN_RETURN_DEGREES of the baseline yaw. People asked to look back
    # stop a few degrees short: sivakumar/Jaya settles 9-12 degrees off and failed at 8.
    "TURN_RETURN_DEGREES": 12.0,
    # A real turn passes through intermediate poses: the step counts only when a frame between
    # TURN_PARTIAL_DEGREES and TURN_YAW_DEGREES was seen on the way out or back. A slideshow of a
    # frontal and a turned photo jumps straight across; the user is asked to turn again, slowly.
    # The in-between frame must come before the frame that is back (one frame is never both),
    # and above the yaw solvePnP reads on jittered frontal photos (-5 to +7 degrees,
    # ml/studies/README.md, prompted logins): at 6 a slideshow passed a turn with such a frame.
    "TURN_PARTIAL_DEGREES": 10.0,
    # Turned and back with nothing in between this many times fails the step: a person asked
    # "once more, slowly" complies; a slideshow would otherwise retry for the whole budget
    # until one jittered photo reads in between.
    "TURN_MAX_FAST_RETURNS": 3,
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
    # Frames HOG misses (a turned head) but the context detector boxes carry the track
    # (challenge/bridge.py): the box may move this fast, in box widths. TRACK_BRIDGE False:
    # a face lost and found again is compared with the last one seen, gap or not.
    "TRACK_BRIDGE": True,
    "TRACK_BRIDGE_MAX_SPEED": 1.6,
    "TRACK_BRIDGE_MAX_SHIFT": 0.6,
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
    # Frames whose yaw reads beyond this are not judged (nor taken as the reference): dlib's 68
    # points on a near-profile face are a poor fit. On tranvanluyt/real an attempt starting at
    # 66 degrees had 2 of 2 turned frames "planar" once passive-only attempts lasted 10 frames.
    "PLANAR_MAX_ABS_YAW": 45.0,
    "PLANAR_MIN_MOTION": 0.02,
    "PLANAR_MAX_UNEXPLAINED": 0.55,
    "PLANAR_MIN_TURNED_FRAMES": 2,
    "PLANAR_MAX_PLANAR_SHARE": 0.5,
    # A second face must stay in view this long (server clock) before it denies the attempt
    # (multiple_faces): someone passing behind the user, or one spurious detection, does not.
    # Frames with several faces never count as evidence. The frame cap bounds a fast stream.
    "MULTIPLE_FACES_GRACE_SECONDS": 2.0,
    "MULTIPLE_FACES_GRACE_FRAMES": 20,  # 10 fps x the grace
    # --- sign-in guidance (webapp/login/hints.py; hints only, they never decide) -----------
    # A face box narrower than this share of the frame width asks the user to come closer,
    # wider than the max to move back (dlib's box is brows to chin: a face at arm's length is
    # 0.22-0.3 of the frame width; the detector finds faces down to about 0.15 of a 480 px
    # frame). A face centre farther than GUIDE_MAX_OFFSET of the frame side from its centre
    # asks to centre it.
    "GUIDE_MIN_FACE_SHARE": 0.18,
    "GUIDE_MAX_FACE_SHARE": 0.6,
    "GUIDE_MAX_OFFSET": 0.17,
    # Mean grey level (0..255) of the face (of the frame when no face is seen): darker is "too
    # dark", brighter "too bright"; a background brighter than the face by the margin is
    # "backlit". Sharpness: variance of the Laplacian of the 128 px face (face/quality.py);
    # below it, "blurred" (ENROLL_MIN_SHARPNESS is the stricter bar for enrollment photos).
    "GUIDE_DARK_LEVEL": 60.0,
    "GUIDE_BRIGHT_LEVEL": 215.0,
    "GUIDE_BACKLIT_MARGIN": 70.0,
    "GUIDE_MIN_SHARPNESS": 15.0,
    # The page's texts (webapp/texts/<lang>.json): the language, and an optional JSON file of a
    # deployment's own texts merged over it (same keys; see README "Translating the pages").
    "UI_LANGUAGE": "en",
    "UI_TEXTS_FILE": None,
    # --- admission control (webapp/login/admission.py) -------------------------------------
    # How many attempts may collect frames at once. None: computed from the workers, the
    # measured CPU cost of a frame and the page's pace (ADMISSION_* below); 0: no limit. Beyond
    # it, login/start answers 503 `busy` with Retry-After, so the attempts already running finish.
    "ADMISSION_MAX_ATTEMPTS": None,
    # Worker processes serving this database (gunicorn.conf.py exports its worker count here;
    # with several machines, the total).
    "ADMISSION_WORKERS": 2,
    # Server CPU per live frame, ms: the median of `python -m benchmarks.login_cost` on 2 cores
    # (README "Performance"), with sparse encoding.
    "ADMISSION_FRAME_CPU_MS": 60.0,
    # Share of the workers' time the admitted attempts may use (the rest absorbs bursts,
    # enrollment and admin requests).
    "ADMISSION_UTILISATION": 0.8,
    # An attempt that sent no frame for this long no longer counts as running (an abandoned tab).
    "ADMISSION_IDLE_SECONDS": 10,
    # An attempt started but never sent a frame holds its slot only this long: the page opens
    # the camera before login/start and sends the first frame right after it, so a started
    # attempt without a frame after a few seconds is a script's, or a tab closed at once, and
    # must not keep real logins out for ADMISSION_IDLE_SECONDS.
    "ADMISSION_FIRST_FRAME_SECONDS": 3,
    # Retry-After of a refusal: this many seconds plus up to as many again at random, so refused
    # clients do not all come back in the same second.
    "ADMISSION_RETRY_SECONDS": 3,
    # Expired attempts closed (`timeout`) by the opportunistic sweep of each login/start;
    # `flask attempts sweep` closes all of them.
    "SWEEP_BATCH": 20,
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
    # --- throttling (decision policy: throttling; webapp/login/throttle.py) -----------------
    # Consecutive failed authentications on one account *from one client* (address + signed
    # device cookie) that lock that client out of that account, and for how long. An attempt
    # that never received a face frame is not a failed authentication (it counts against the
    # client's start rate below). A stranger's failures therefore never lock the owner's device
    # (NIST SP 800-63B-4 5.2.2; AWS Face Liveness: 5 failures per device).
    "LOCKOUT_THRESHOLD": 5,
    "LOCKOUT_SECONDS": 900,
    # Account-wide, over every client: after this many failures since the last success (within
    # ACCOUNT_FAILURE_WINDOW_SECONDS) each new attempt from a device that never signed in to the
    # account waits BASE x 2^(failures - AFTER) seconds after the last failure (capped at MAX;
    # 429 with Retry-After). It slows, never locks; a device that signed in before is exempt.
    # 0 disables it. NIST asks for no more than 100 consecutive failures per account.
    "ACCOUNT_SLOWDOWN_AFTER": 20,
    "ACCOUNT_SLOWDOWN_BASE_SECONDS": 2,
    "ACCOUNT_SLOWDOWN_MAX_SECONDS": 300,
    "ACCOUNT_FAILURE_WINDOW_SECONDS": 3600,
    # Per client address, counted by Flask-Limiter (moving window): attempts started per window
    # (0 disables), and limit strings ("N per minute", see the limits package) for the frames
    # endpoint and the admin password form. Frames: a burst during a blink runs as fast as the
    # server answers (~15/s on one core); 1200 a minute leaves room for a few users behind one NAT.
    "RATE_LIMIT_ATTEMPTS": 30,
    "RATE_LIMIT_WINDOW_SECONDS": 300,
    "RATE_LIMIT_FRAMES": "1200 per minute",
    "RATE_LIMIT_ADMIN_LOGIN": "20 per minute",
    # Where the per-address counters live: None = this process's memory (one gunicorn worker
    # counts its own share; fine for one machine); a redis:// URL shares them between workers
    # and machines (needs the `redis` package; the scale-out work reads this setting too).
    "REDIS_URL": None,
    # The device cookie: a random id signed with SECRET_KEY, HttpOnly, SameSite=Lax, Secure
    # when SESSION_COOKIE_SECURE. Only its SHA-256 is stored with an attempt.
    "DEVICE_COOKIE_NAME": "livegate_device",
    "DEVICE_COOKIE_DAYS": 365,
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
    # Who runs the identity ResNet: "onnx" = the same dlib network exported to onnxruntime
    # (webapp/assets/encoder, ~8 ms of CPU instead of ~140 ms; within 1e-3 of dlib, so stored
    # encodings stay valid) or "dlib" = dlib itself (bit-identical to face_recognition).
    "FACE_ENCODER": "onnx",
    # Login frames are searched more cheaply than enrollment stills (webapp/login/tracking.py):
    # around the previous frame's one face first (a grey crop grown by FACE_TRACK_REGION_PAD
    # of the box on each side, scaled so the face is FACE_TRACK_REGION_FACE_PX wide: HOG's
    # window is 80 px), else on a colour copy of FACE_TRACK_FULL_SIDE px, and with the
    # enrollment search (FACE_DETECT_*) only when the context detector is confident of a face
    # HOG did not find. A full pass runs at least every FACE_TRACK_FULL_EVERY frames, so a
    # second face only HOG sees is noticed within that many frames (the multiple-face grace is
    # 20). Measured on the live clips: python -m ml.studies.login_detection (README).
    "FACE_TRACK": True,
    "FACE_TRACK_FULL_SIDE": 320,
    "FACE_TRACK_REGION_PAD": 0.3,
    "FACE_TRACK_REGION_FACE_PX": 90,
    "FACE_TRACK_FULL_EVERY": 5,
    "ENROLL_MIN_FACE_PX": 80,
    "ENROLL_MIN_SHARPNESS": 40.0,
    "ENROLL_BRIGHTNESS_RANGE": [40.0, 220.0],
    # The faces an account must hold: an enrollment (CLI, photo upload or webcam) is stored only
    # when the account then holds at least this many, so a new account needs this many good
    # images at once and an enrolled one takes any number more (accounts/enrollment.py); the
    # admin pages flag accounts below it (older ones, or `users add --no-face`).
    "ENROLL_MIN_FRAMES": 3,
    # --- sessions --------------------------------------------------------------------------
    "SESSION_LIFETIME_SECONDS": 8 * 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Set True behind HTTPS (compose/production); http://127.0.0.1 needs it False.
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "livegate_session",
    # --- OpenID Connect provider (webapp/oidc) ----------------------------------------------
    # The issuer URL that relying parties see ("https://login.example.com"). None = the URL each
    # request came in on, fine on one host; set it behind a proxy or with several host names.
    "OIDC_ISSUER": None,
    # ID-token signatures: RS256 (what every OIDC client must support) or ES256.
    "OIDC_SIGNING_ALG": "RS256",
    # The signing keys (private JWKs, mode 0600). None = "oidc_keys.json" in the instance folder.
    "OIDC_KEY_FILE": None,
    # Lifetimes in seconds. Codes are exchanged by the client's back end within a second or two
    # (RFC 6749 recommends at most 10 minutes); tokens are short because a face login is cheap
    # to repeat and there are no refresh tokens. A rotated key stays in the JWKS this long.
    "OIDC_CODE_SECONDS": 60,
    "OIDC_ACCESS_TOKEN_SECONDS": 300,
    "OIDC_ID_TOKEN_SECONDS": 300,
    # Refresh tokens keep a relying party's session going without a new face check, for at most
    # this long after the face login (rotated on every use; a reused one revokes the family).
    # The same 8 h as a LiveGate session. 0 = no refresh tokens.
    "OIDC_REFRESH_TOKEN_SECONDS": 8 * 3600,
    # An authorization request waits this long, server-side, for the face login it asked for.
    "OIDC_PENDING_SECONDS": 600,
    # --- operations (webapp/ops/) -----------------------------------------------------------
    # GET /metrics in the Prometheus text format (codes only: no usernames, addresses or ids).
    # Keep it off the public side of the proxy (the Caddy example refuses it).
    "METRICS_ENABLED": True,
    # One JSON object per log line (with the request id), and the level of the service's logs.
    "LOG_JSON": True,
    "LOG_LEVEL": "INFO",
    # --- biometric data at rest (webapp/accounts/sealing.py) -------------------------------
    # Face templates are sealed with AES-256-GCM. None = keys in instance/template_keys (one
    # base64 key a line, the first seals; generated 0600 on first run). Or a list of base64 keys
    # here / in FLASK_TEMPLATE_KEYS='["..."]' (first seals, the rest only open): never in the DB.
    "TEMPLATE_KEYS": None,
    # The key file when TEMPLATE_KEYS is not set; None = template_keys in the instance folder.
    "TEMPLATE_KEY_FILE": None,
    # --- privacy: consent and retention (webapp/accounts/privacy.py, `flask prune`) ---------
    # The text a person agrees to before their face is enrolled; recorded with each new
    # enrollment (who recorded it, when, the text and its hash). Shown on the admin user page.
    "CONSENT_TEXT": (
        "I agree that LiveGate stores a mathematical template of my face (not a photo), sealed with "
        "encryption, to sign me in by face, until my account is deleted or I withdraw this consent."
    ),
    # Days kept. Landmarks, per-frame signals and frame hashes: while an attempt is reviewable.
    # Attempts (with their frames): long enough to investigate an incident. Audit events: the
    # security record. Ended (expired or revoked) sessions: a short trail of who signed in.
    "RETAIN_SIGNALS_DAYS": 30,
    "RETAIN_ATTEMPTS_DAYS": 180,
    "RETAIN_AUDIT_DAYS": 365,
    "RETAIN_SESSIONS_DAYS": 30,
    # --- misc ------------------------------------------------------------------------------
    # Number of reverse proxies whose X-Forwarded-For is trusted for the client address: that
    # many hops are read from the right (werkzeug ProxyFix), so what a client forged stays to the
    # left. Only safe when the app is reachable through those proxies alone (README: Security).
    "TRUSTED_PROXIES": 0,
    "ONNX_THREADS": 1,
}

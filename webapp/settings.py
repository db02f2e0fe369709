"""Typed settings, parsed and validated once per app from the layered Flask config.

``webapp/config.py`` holds every knob's one default (with the measurement it came from);
this module turns the merged config (defaults -> instance/config.py -> test config ->
``FLASK_*`` environment) into frozen dataclasses when the app is created. A bad value fails
there, at start-up, with a message naming the key, instead of as a 500 on the first login
that reads it. Nothing else in ``webapp/`` parses configuration values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import current_app

from webapp.challenge.bridge import BridgeSettings
from webapp.challenge.motion import MotionSettings
from webapp.challenge.screenlight import PALETTE, LightSettings
from webapp.challenge.steps import STEPS, BlinkJudge, StepSettings
from webapp.face.encoder import ENCODERS
from webapp.face.engine import DetectorSettings
from webapp.face.image import ImageLimits
from webapp.login.hints import GuidanceSettings
from webapp.login.policy import ContinuityPolicy, PlanaritySettings, Policy, TrackSettings
from webapp.oidc.settings import SIGNING_ALGS, OidcSettings
from webapp.replay.hashes import NearDuplicateSettings

EXTENSION_KEY = "livegate.settings"


class SettingsError(ValueError):
    """A configuration value cannot be used; the message names the key."""


class _Reader:
    """Typed access to one config mapping; every failure names its key."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg

    def _raw(self, key: str) -> Any:
        if key not in self.cfg:
            raise SettingsError(f"{key}: missing (webapp/config.py defines every key)")
        return self.cfg[key]

    def integer(self, key: str, minimum: int | None = None) -> int:
        raw = self._raw(key)
        if isinstance(raw, bool):
            raise SettingsError(f"{key}: expected an integer, got {raw!r}")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{key}: expected an integer, got {raw!r}") from None
        if isinstance(raw, float) and raw != value:
            raise SettingsError(f"{key}: expected an integer, got {raw!r}")
        if minimum is not None and value < minimum:
            raise SettingsError(f"{key}: must be at least {minimum}, got {value}")
        return value

    def number(self, key: str, minimum: float | None = None) -> float:
        raw = self._raw(key)
        if isinstance(raw, bool):
            raise SettingsError(f"{key}: expected a number, got {raw!r}")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{key}: expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{key}: expected a finite number, got {raw!r}")
        if minimum is not None and value < minimum:
            raise SettingsError(f"{key}: must be at least {minimum}, got {value}")
        return value

    def optional_number(self, key: str) -> float | None:
        return None if self.cfg.get(key) is None else self.number(key)

    def optional_integer(self, key: str, minimum: int | None = None) -> int | None:
        return None if self.cfg.get(key) is None else self.integer(key, minimum)

    def flag(self, key: str) -> bool:
        raw = self._raw(key)
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.strip().lower() in ("true", "1", "yes")
        raise SettingsError(f"{key}: expected true or false, got {raw!r}")

    def path(self, key: str) -> Path:
        raw = self._raw(key)
        if not isinstance(raw, str | Path) or not str(raw):
            raise SettingsError(f"{key}: expected a directory path, got {raw!r}")
        return Path(raw)

    def optional_path(self, key: str) -> Path | None:
        return self.path(key) if self.cfg.get(key) else None

    def str_list(self, key: str) -> tuple[str, ...]:
        raw = self._raw(key)
        if isinstance(raw, str) or not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
            raise SettingsError(f"{key}: expected a list of strings, got {raw!r}")
        return tuple(raw)

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        raw = self._raw(key)
        value = raw.strip().lower() if isinstance(raw, str) else raw
        if value not in choices:
            raise SettingsError(f"{key}: expected one of {', '.join(choices)}, got {raw!r}")
        return str(value)

    def text(self, key: str) -> str:
        raw = self._raw(key)
        if not isinstance(raw, str) or not raw.strip():
            raise SettingsError(f"{key}: expected a non-empty text, got {raw!r}")
        return raw.strip()

    def rate_limit(self, key: str) -> str:
        """A limits string ("20 per minute", "5/second; 100/hour"); empty or None = no limit."""
        raw = self._raw(key)
        if raw in (None, ""):
            return ""
        if not isinstance(raw, str):
            raise SettingsError(f"{key}: expected a rate limit such as '20 per minute', got {raw!r}")
        from limits import parse_many

        try:
            parse_many(raw)
        except ValueError:
            raise SettingsError(f"{key}: expected a rate limit such as '20 per minute', got {raw!r}") from None
        return raw

    def storage_uri(self, key: str) -> str:
        """Flask-Limiter's storage: this process's memory, or the Redis URL when one is set."""
        raw = self.cfg.get(key)
        if raw in (None, ""):
            return "memory://"
        if not isinstance(raw, str) or not raw.startswith(("redis://", "rediss://", "redis+unix://", "redis+sentinel://")):
            raise SettingsError(f"{key}: expected a redis:// URL, got {raw!r}")
        return raw

    def cookie_name(self, key: str) -> str:
        raw = self._raw(key)
        if not isinstance(raw, str) or not raw or not all(c.isalnum() or c in "_-" for c in raw):
            raise SettingsError(f"{key}: expected a cookie name (letters, digits, _ -), got {raw!r}")
        return raw

    def float_pair(self, key: str) -> tuple[float, float]:
        raw = self._raw(key)
        try:
            low, high = (float(v) for v in raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{key}: expected [low, high], got {raw!r}") from None
        if low > high:
            raise SettingsError(f"{key}: low {low} is above high {high}")
        return low, high


@dataclass(frozen=True)
class ChallengeSettings:
    """Which steps the server draws from (CSPRNG) and how many per attempt."""

    steps: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class AttemptSettings:
    ttl_seconds: int
    max_frames: int
    frame_interval_ms: int  # suggested client pacing
    blink_frame_interval_ms: int  # pacing during a blink step (a burst)


@dataclass(frozen=True)
class AdmissionSettings:
    """Admission control (webapp/login/admission.py); see the ADMISSION_* keys."""

    max_attempts: int | None  # None: computed (capacity()); 0: no limit
    workers: int
    frame_cpu_ms: float
    utilisation: float
    idle_seconds: int
    first_frame_seconds: int
    retry_seconds: int
    sweep_batch: int


@dataclass(frozen=True)
class EncodingSettings:
    """Which login frames get a 128-d identity encoding (webapp/login/identity.py)."""

    sparse: bool  # False: every face frame
    random_span: int  # the CSPRNG-chosen frame lies within this many face frames after the baseline


@dataclass(frozen=True)
class ReplaySettings:
    lookback_attempts: int  # the same username's recent attempts compared for near-duplicates
    near: NearDuplicateSettings


@dataclass(frozen=True)
class ThrottleSettings:
    lockout_threshold: int  # 0 = no lockout (per account and client)
    lockout_seconds: int
    rate_limit_attempts: int  # 0 = no per-address limit
    rate_limit_window_seconds: int
    account_slowdown_after: int  # 0 = no account-wide slowdown
    account_slowdown_base_seconds: int
    account_slowdown_max_seconds: int
    account_failure_window_seconds: int
    rate_limit_frames: str  # a limits string ("N per minute"); "" = none
    rate_limit_admin_login: str
    storage_uri: str  # Flask-Limiter storage: memory://, or REDIS_URL when set
    device_cookie_name: str
    device_cookie_days: int


@dataclass(frozen=True)
class RetentionSettings:
    """Days each kind of record is kept (``flask prune``)."""

    signals_days: int
    attempts_days: int
    audit_days: int
    sessions_days: int


@dataclass(frozen=True)
class EnrollSettings:
    limits: ImageLimits
    max_images: int
    min_face_px: int
    min_sharpness: float
    brightness_range: tuple[float, float]
    min_webcam_frames: int

    @property
    def min_faces(self) -> int:
        """The faces every account must hold (ENROLL_MIN_FRAMES): every enrollment path
        enforces it (accounts/enrollment.good_needed), the admin pages flag accounts below it."""
        return self.min_webcam_frames


@dataclass(frozen=True)
class ModelSettings:
    liveness_dir: Path
    context_detector_dir: Path
    verify: bool
    preload: bool
    onnx_threads: int
    blink_dir: Path | None  # None: the blink rule alone
    blink_threshold: float | None  # None: the blink card's
    live_threshold: float | None  # None: the ensemble card's


@dataclass(frozen=True)
class Settings:
    """Every knob of the service, typed. Built by :meth:`from_config` once per app."""

    models: ModelSettings
    detector: DetectorSettings
    challenge: ChallengeSettings
    attempts: AttemptSettings
    encoding: EncodingSettings
    admission: AdmissionSettings
    replay: ReplaySettings
    throttle: ThrottleSettings
    frame_limits: ImageLimits
    enroll: EnrollSettings
    session_lifetime_seconds: int
    trusted_proxies: int
    oidc: OidcSettings
    guidance: GuidanceSettings
    ui_language: str
    ui_texts_file: Path | None
    metrics_enabled: bool
    log_json: bool
    log_level: str
    template_keys: tuple[str, ...] | None  # None: the key file
    template_key_file: Path | None  # None: instance/template_keys
    retention: RetentionSettings
    consent_text: str
    # The decision policy's knobs, with the ensemble's threshold and the blink detector still to
    # fill in from the loaded models (see :meth:`policy`).
    policy_knobs: Policy

    @property
    def identity_tolerance(self) -> float:
        return self.policy_knobs.tolerance

    @property
    def identity_mismatch_distance(self) -> float:
        return self.policy_knobs.mismatch_distance

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Settings:
        r = _Reader(cfg)
        steps = r.str_list("CHALLENGE_STEPS")
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise SettingsError(f"CHALLENGE_STEPS: unknown steps {unknown}; known: {sorted(STEPS)}")
        count = r.integer("CHALLENGE_COUNT", minimum=0)
        partial = r.number("TURN_PARTIAL_DEGREES", minimum=0.0)
        if partial >= r.number("TURN_YAW_DEGREES", minimum=0.0):
            raise SettingsError("TURN_PARTIAL_DEGREES: must be below TURN_YAW_DEGREES (the intermediate poses of a turn)")
        if r.number("TURN_RETURN_DEGREES", minimum=0.0) >= r.number("TURN_YAW_DEGREES", minimum=0.0):
            raise SettingsError("TURN_RETURN_DEGREES: must be below TURN_YAW_DEGREES (a turned head is not back)")
        if steps and count > len(steps):
            raise SettingsError(f"CHALLENGE_COUNT: {count} steps drawn from a catalogue of {len(steps)}")
        light = _light_settings(r, steps)
        planarity = (
            PlanaritySettings(
                motion=MotionSettings(
                    min_motion=r.number("PLANAR_MIN_MOTION", minimum=0.0),
                    min_turn=r.number("PLANAR_MIN_TURN_DEGREES", minimum=0.0),
                    max_abs_yaw=r.number("PLANAR_MAX_ABS_YAW", minimum=0.0),
                    max_unexplained=r.number("PLANAR_MAX_UNEXPLAINED", minimum=0.0),
                ),
                min_turned_frames=r.integer("PLANAR_MIN_TURNED_FRAMES", minimum=1),
                max_planar_share=r.number("PLANAR_MAX_PLANAR_SHARE", minimum=0.0),
            )
            if r.flag("PLANAR_CHECK")
            else None
        )
        return cls(
            models=ModelSettings(
                liveness_dir=r.path("LIVENESS_MODEL_DIR"),
                context_detector_dir=r.path("CONTEXT_DETECTOR_DIR"),
                verify=r.flag("LIVENESS_VERIFY_MODELS"),
                preload=r.flag("PRELOAD_MODELS"),
                onnx_threads=r.integer("ONNX_THREADS", minimum=1),
                blink_dir=r.optional_path("BLINK_MODEL_DIR"),
                blink_threshold=r.optional_number("BLINK_THRESHOLD"),
                live_threshold=r.optional_number("LIVENESS_THRESHOLD"),
            ),
            detector=DetectorSettings(
                max_side=r.integer("FACE_DETECT_MAX_SIDE", minimum=1),
                min_side=r.integer("FACE_DETECT_MIN_SIDE", minimum=1),
                upsample=r.integer("FACE_DETECT_UPSAMPLE", minimum=0),
                min_face_px=r.integer("FACE_MIN_PX", minimum=0),
                track=r.flag("FACE_TRACK"),
                track_full_side=r.integer("FACE_TRACK_FULL_SIDE", minimum=80),
                track_region_pad=r.number("FACE_TRACK_REGION_PAD", minimum=0.0),
                track_region_face_px=r.integer("FACE_TRACK_REGION_FACE_PX", minimum=80),
                track_full_every=r.integer("FACE_TRACK_FULL_EVERY", minimum=1),
                encoder=r.choice("FACE_ENCODER", ENCODERS),
            ),
            challenge=ChallengeSettings(steps=steps, count=count),
            attempts=AttemptSettings(
                ttl_seconds=r.integer("ATTEMPT_TTL_SECONDS", minimum=1),
                max_frames=r.integer("ATTEMPT_MAX_FRAMES", minimum=1),
                frame_interval_ms=r.integer("FRAME_INTERVAL_MS", minimum=0),
                blink_frame_interval_ms=r.integer("BLINK_FRAME_INTERVAL_MS", minimum=0),
            ),
            encoding=EncodingSettings(
                sparse=r.flag("IDENTITY_SPARSE_ENCODING"),
                random_span=r.integer("IDENTITY_RANDOM_FRAME_SPAN", minimum=1),
            ),
            admission=AdmissionSettings(
                max_attempts=r.optional_integer("ADMISSION_MAX_ATTEMPTS", minimum=0),
                workers=r.integer("ADMISSION_WORKERS", minimum=1),
                frame_cpu_ms=r.number("ADMISSION_FRAME_CPU_MS", minimum=0.1),
                utilisation=r.number("ADMISSION_UTILISATION", minimum=0.01),
                idle_seconds=r.integer("ADMISSION_IDLE_SECONDS", minimum=1),
                first_frame_seconds=r.integer("ADMISSION_FIRST_FRAME_SECONDS", minimum=1),
                retry_seconds=r.integer("ADMISSION_RETRY_SECONDS", minimum=1),
                sweep_batch=r.integer("SWEEP_BATCH", minimum=0),
            ),
            replay=ReplaySettings(
                lookback_attempts=r.integer("REPLAY_LOOKBACK_ATTEMPTS", minimum=0),
                near=NearDuplicateSettings(
                    phash_near=r.integer("NEAR_DUP_PHASH", minimum=0),
                    dhash_near=r.integer("NEAR_DUP_DHASH", minimum=0),
                    fingerprint_near=r.number("NEAR_DUP_FINGERPRINT", minimum=0.0),
                ),
            ),
            throttle=ThrottleSettings(
                lockout_threshold=r.integer("LOCKOUT_THRESHOLD", minimum=0),
                lockout_seconds=r.integer("LOCKOUT_SECONDS", minimum=0),
                rate_limit_attempts=r.integer("RATE_LIMIT_ATTEMPTS", minimum=0),
                rate_limit_window_seconds=r.integer("RATE_LIMIT_WINDOW_SECONDS", minimum=1),
                account_slowdown_after=r.integer("ACCOUNT_SLOWDOWN_AFTER", minimum=0),
                account_slowdown_base_seconds=r.integer("ACCOUNT_SLOWDOWN_BASE_SECONDS", minimum=1),
                account_slowdown_max_seconds=r.integer("ACCOUNT_SLOWDOWN_MAX_SECONDS", minimum=1),
                account_failure_window_seconds=r.integer("ACCOUNT_FAILURE_WINDOW_SECONDS", minimum=1),
                rate_limit_frames=r.rate_limit("RATE_LIMIT_FRAMES"),
                rate_limit_admin_login=r.rate_limit("RATE_LIMIT_ADMIN_LOGIN"),
                storage_uri=r.storage_uri("REDIS_URL"),
                device_cookie_name=r.cookie_name("DEVICE_COOKIE_NAME"),
                device_cookie_days=r.integer("DEVICE_COOKIE_DAYS", minimum=1),
            ),
            frame_limits=ImageLimits(
                r.integer("FRAME_MAX_BYTES", minimum=1), r.integer("FRAME_MAX_PIXELS", minimum=1), r.integer("FRAME_MAX_SIDE", minimum=1)
            ),
            enroll=EnrollSettings(
                limits=ImageLimits(
                    r.integer("ENROLL_MAX_BYTES", minimum=1),
                    r.integer("ENROLL_MAX_PIXELS", minimum=1),
                    r.integer("ENROLL_MAX_SIDE", minimum=1),
                ),
                max_images=r.integer("ENROLL_MAX_IMAGES", minimum=1),
                min_face_px=r.integer("ENROLL_MIN_FACE_PX", minimum=0),
                min_sharpness=r.number("ENROLL_MIN_SHARPNESS", minimum=0.0),
                brightness_range=r.float_pair("ENROLL_BRIGHTNESS_RANGE"),
                min_webcam_frames=r.integer("ENROLL_MIN_FRAMES", minimum=1),
            ),
            session_lifetime_seconds=r.integer("SESSION_LIFETIME_SECONDS", minimum=1),
            trusted_proxies=r.integer("TRUSTED_PROXIES", minimum=0),
            oidc=_oidc_settings(r),
            guidance=GuidanceSettings(
                min_face_share=r.number("GUIDE_MIN_FACE_SHARE", minimum=0.0),
                max_face_share=r.number("GUIDE_MAX_FACE_SHARE", minimum=0.0),
                max_offset=r.number("GUIDE_MAX_OFFSET", minimum=0.0),
                dark_level=r.number("GUIDE_DARK_LEVEL", minimum=0.0),
                bright_level=r.number("GUIDE_BRIGHT_LEVEL", minimum=0.0),
                backlit_margin=r.number("GUIDE_BACKLIT_MARGIN", minimum=0.0),
                min_sharpness=r.number("GUIDE_MIN_SHARPNESS", minimum=0.0),
            ),
            ui_language=_language(r),
            ui_texts_file=r.optional_path("UI_TEXTS_FILE"),
            metrics_enabled=r.flag("METRICS_ENABLED"),
            log_json=r.flag("LOG_JSON"),
            log_level=_log_level(r),
            template_keys=r.str_list("TEMPLATE_KEYS") if cfg.get("TEMPLATE_KEYS") else None,
            template_key_file=r.optional_path("TEMPLATE_KEY_FILE"),
            retention=RetentionSettings(
                signals_days=r.integer("RETAIN_SIGNALS_DAYS", minimum=1),
                attempts_days=r.integer("RETAIN_ATTEMPTS_DAYS", minimum=1),
                audit_days=r.integer("RETAIN_AUDIT_DAYS", minimum=1),
                sessions_days=r.integer("RETAIN_SESSIONS_DAYS", minimum=1),
            ),
            consent_text=r.text("CONSENT_TEXT"),
            policy_knobs=Policy(
                live_threshold=0.5,  # replaced by the loaded ensemble's (see policy())
                tolerance=r.number("IDENTITY_TOLERANCE", minimum=0.0),
                mismatch_distance=r.number("IDENTITY_MISMATCH_DISTANCE", minimum=0.0),
                min_matched_frames=r.integer("IDENTITY_MIN_MATCHED_FRAMES", minimum=1),
                live_min_frames=r.integer("LIVENESS_MIN_FRAMES", minimum=1),
                baseline_frames=r.integer("CHALLENGE_BASELINE_FRAMES", minimum=1),
                step_max_seconds=r.number("CHALLENGE_STEP_MAX_SECONDS", minimum=0.5),
                blink_step_max_seconds=r.number("BLINK_STEP_MAX_SECONDS", minimum=0.5),
                multi_face_grace_seconds=r.number("MULTIPLE_FACES_GRACE_SECONDS", minimum=0.0),
                multi_face_grace_frames=r.integer("MULTIPLE_FACES_GRACE_FRAMES", minimum=1),
                step_max_frames=r.integer("CHALLENGE_STEP_MAX_FRAMES", minimum=1),
                blink_step_max_frames=r.integer("BLINK_STEP_MAX_FRAMES", minimum=1),
                max_duplicate_frames=r.integer("REPLAY_MAX_DUPLICATE_FRAMES", minimum=0),
                max_near_duplicate_frames=r.integer("REPLAY_MAX_NEAR_DUPLICATE_FRAMES", minimum=0),
                max_parallel_frames=r.integer("REPLAY_MAX_PARALLEL_FRAMES", minimum=0),
                steps=StepSettings(
                    blink_rule=r.flag("BLINK_RULE"),
                    blink_closed_ratio=r.number("BLINK_CLOSED_RATIO", minimum=0.0),
                    blink_reopen_ratio=r.number("BLINK_REOPEN_RATIO", minimum=0.0),
                    turn_yaw=r.number("TURN_YAW_DEGREES", minimum=0.0),
                    turn_return=r.number("TURN_RETURN_DEGREES", minimum=0.0),
                    turn_partial=r.number("TURN_PARTIAL_DEGREES", minimum=0.0),
                    turn_max_fast_returns=r.integer("TURN_MAX_FAST_RETURNS", minimum=0),
                    closer_ratio=r.number("CLOSER_RATIO", minimum=1.0),
                    closer_frames=r.integer("CLOSER_FRAMES", minimum=1),
                    closer_max_yaw=r.number("CLOSER_MAX_YAW", minimum=0.0),
                    light=light,
                ),
                track=TrackSettings(
                    max_speed=r.number("TRACK_MAX_SPEED_IOD", minimum=0.0),
                    max_shift=r.number("TRACK_MAX_SHIFT_IOD", minimum=0.0),
                    max_scale_speed=r.number("TRACK_MAX_SCALE_SPEED", minimum=0.0),
                    max_breaks=r.integer("TRACK_MAX_BREAKS", minimum=0),
                    bridge=BridgeSettings(
                        max_speed=r.number("TRACK_BRIDGE_MAX_SPEED", minimum=0.0),
                        max_shift=r.number("TRACK_BRIDGE_MAX_SHIFT", minimum=0.0),
                        max_scale_speed=r.number("TRACK_MAX_SCALE_SPEED", minimum=0.0),
                    )
                    if r.flag("TRACK_BRIDGE")
                    else None,
                ),
                planarity=planarity,
                continuity=ContinuityPolicy(max_breaks=r.integer("CONTINUITY_MAX_BREAKS", minimum=0))
                if r.flag("CONTINUITY_CHECK")
                else None,
            ),
        )

    def live_threshold(self, card_threshold: float) -> float:
        """``LIVENESS_THRESHOLD`` when set (0.0 included), else the shipped ensemble card's."""
        return self.models.live_threshold if self.models.live_threshold is not None else float(card_threshold)

    def policy(self, card_threshold: float, blink_judge: BlinkJudge | None) -> Policy:
        """The decision policy for the loaded models (the runtime builds it once)."""
        knobs = self.policy_knobs
        return replace(knobs, live_threshold=self.live_threshold(card_threshold), steps=replace(knobs.steps, blink_judge=blink_judge))


def _oidc_settings(r: _Reader) -> OidcSettings:
    issuer = r.cfg.get("OIDC_ISSUER")
    if issuer is not None and (
        not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")) or "?" in issuer or "#" in issuer
    ):
        raise SettingsError(f"OIDC_ISSUER: expected an http(s) URL without query or fragment, got {issuer!r}")
    alg = r.cfg.get("OIDC_SIGNING_ALG")
    if alg not in SIGNING_ALGS:
        raise SettingsError(f"OIDC_SIGNING_ALG: expected one of {list(SIGNING_ALGS)}, got {alg!r}")
    return OidcSettings(
        issuer=issuer.rstrip("/") if issuer else None,
        signing_alg=alg,
        key_file=r.optional_path("OIDC_KEY_FILE"),
        code_seconds=r.integer("OIDC_CODE_SECONDS", minimum=1),
        access_token_seconds=r.integer("OIDC_ACCESS_TOKEN_SECONDS", minimum=1),
        id_token_seconds=r.integer("OIDC_ID_TOKEN_SECONDS", minimum=1),
        refresh_token_seconds=r.integer("OIDC_REFRESH_TOKEN_SECONDS", minimum=0),
        pending_seconds=r.integer("OIDC_PENDING_SECONDS", minimum=1),
    )


def _log_level(r: _Reader) -> str:
    raw = r._raw("LOG_LEVEL")
    if not isinstance(raw, str) or raw.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"LOG_LEVEL: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return raw.upper()


def _language(r: _Reader) -> str:
    raw = r._raw("UI_LANGUAGE")
    if not isinstance(raw, str) or not raw.replace("-", "").replace("_", "").isalnum() or len(raw) > 16:
        raise SettingsError(f"UI_LANGUAGE: expected a language tag such as 'en', got {raw!r}")
    return raw


def _light_settings(r: _Reader, steps: tuple[str, ...]) -> LightSettings:
    """LIGHT_*: the screen-light sequence and its judgement, checked for photosensitive safety
    (at most 3 colour changes a second) and against the step's time budget."""
    palette = r.str_list("LIGHT_PALETTE")
    unknown = [c for c in palette if c not in PALETTE]
    if unknown:
        raise SettingsError(f"LIGHT_PALETTE: unknown colours {unknown}; known: {sorted(PALETTE)}")
    if len(set(palette)) < 2:
        raise SettingsError("LIGHT_PALETTE: at least two different colours")
    light = LightSettings(
        colours=r.integer("LIGHT_COLOURS", minimum=2),
        palette=palette,
        min_seconds=r.number("LIGHT_MIN_SECONDS", minimum=1.0 / 3.0),
        max_seconds=r.number("LIGHT_MAX_SECONDS", minimum=1.0 / 3.0),
        transition_ms=r.integer("LIGHT_TRANSITION_MS", minimum=0),
        max_lag_ms=r.integer("LIGHT_MAX_LAG_MS", minimum=0),
        min_frames=r.integer("LIGHT_MIN_FRAMES", minimum=3),
        min_correlation=r.number("LIGHT_MIN_CORRELATION", minimum=0.0),
        min_response=r.number("LIGHT_MIN_RESPONSE", minimum=0.0),
        min_own_share=r.number("LIGHT_MIN_OWN_SHARE", minimum=0.0),
        bright_face_level=r.number("LIGHT_BRIGHT_FACE_LEVEL", minimum=0.0),
    )
    if light.max_seconds < light.min_seconds:
        raise SettingsError("LIGHT_MAX_SECONDS: must be at least LIGHT_MIN_SECONDS")
    if light.transition_ms >= 1000 * light.min_seconds:
        raise SettingsError("LIGHT_TRANSITION_MS: must be shorter than LIGHT_MIN_SECONDS (each colour must settle)")
    if "screen_light" in steps and light.sequence_max_seconds + 1.0 > r.integer("ATTEMPT_TTL_SECONDS", minimum=1) / 2:
        raise SettingsError(
            f"LIGHT_COLOURS: {light.colours} x LIGHT_MAX_SECONDS {light.max_seconds} s takes more than half the attempt's time"
        )
    return light


def settings() -> Settings:
    """The current app's settings (built in ``create_app``)."""
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]

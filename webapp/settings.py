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

from webapp.challenge.motion import MotionSettings
from webapp.challenge.screenlight import PALETTE, LightSettings
from webapp.challenge.steps import STEPS, BlinkJudge, StepSettings
from webapp.face.engine import DetectorSettings
from webapp.face.image import ImageLimits
from webapp.login.policy import ContinuityPolicy, PlanaritySettings, Policy, TrackSettings
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
class ReplaySettings:
    lookback_attempts: int  # the same username's recent attempts compared for near-duplicates
    near: NearDuplicateSettings


@dataclass(frozen=True)
class ThrottleSettings:
    lockout_threshold: int  # 0 = no lockout
    lockout_seconds: int
    rate_limit_attempts: int  # 0 = no per-address limit
    rate_limit_window_seconds: int


@dataclass(frozen=True)
class EnrollSettings:
    limits: ImageLimits
    max_images: int
    min_face_px: int
    min_sharpness: float
    brightness_range: tuple[float, float]
    min_webcam_frames: int


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
    replay: ReplaySettings
    throttle: ThrottleSettings
    frame_limits: ImageLimits
    enroll: EnrollSettings
    session_lifetime_seconds: int
    trusted_proxies: int
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
        if 0.0 < partial <= r.number("TURN_RETURN_DEGREES", minimum=0.0):
            raise SettingsError("TURN_PARTIAL_DEGREES: must be above TURN_RETURN_DEGREES (one frame cannot be both in between and back)")
        if steps and count > len(steps):
            raise SettingsError(f"CHALLENGE_COUNT: {count} steps drawn from a catalogue of {len(steps)}")
        light = _light_settings(r, steps)
        planarity = (
            PlanaritySettings(
                motion=MotionSettings(
                    min_motion=r.number("PLANAR_MIN_MOTION", minimum=0.0),
                    min_turn=r.number("PLANAR_MIN_TURN_DEGREES", minimum=0.0),
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
            ),
            challenge=ChallengeSettings(steps=steps, count=count),
            attempts=AttemptSettings(
                ttl_seconds=r.integer("ATTEMPT_TTL_SECONDS", minimum=1),
                max_frames=r.integer("ATTEMPT_MAX_FRAMES", minimum=1),
                frame_interval_ms=r.integer("FRAME_INTERVAL_MS", minimum=0),
                blink_frame_interval_ms=r.integer("BLINK_FRAME_INTERVAL_MS", minimum=0),
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

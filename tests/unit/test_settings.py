"""Typed settings: parsed once at start-up, every bad value named by its key."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from webapp.config import DEFAULTS
from webapp.login.policy import Policy
from webapp.settings import Settings, SettingsError

REPO = Path(__file__).resolve().parents[2]


def build(**overrides: Any) -> Settings:
    return Settings.from_config({**DEFAULTS, **overrides})


def test_defaults_parse_and_the_policy_matches_its_own_defaults() -> None:
    cfg = build()
    assert cfg.policy(0.5, None) == Policy(live_threshold=0.5)
    assert cfg.frame_limits.max_bytes == DEFAULTS["FRAME_MAX_BYTES"]
    assert cfg.challenge.steps == tuple(DEFAULTS["CHALLENGE_STEPS"])
    assert cfg.live_threshold(0.7) == 0.7
    assert build(LIVENESS_THRESHOLD=0.0).live_threshold(0.7) == 0.0  # 0.0 is a value, not "unset"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("IDENTITY_TOLERANCE", "half", "expected a number"),
        ("IDENTITY_TOLERANCE", float("nan"), "finite"),
        ("ATTEMPT_TTL_SECONDS", 0, "at least 1"),
        ("ATTEMPT_TTL_SECONDS", 1.5, "expected an integer"),
        ("CHALLENGE_COUNT", True, "expected an integer"),
        ("CHALLENGE_STEPS", "blink", "list of strings"),
        ("CHALLENGE_STEPS", ["blink", "somersault"], "unknown steps"),
        ("CHALLENGE_COUNT", 4, "catalogue of 3"),
        ("PLANAR_CHECK", "maybe", "true or false"),
        ("ENROLL_BRIGHTNESS_RANGE", [200, 40], "above high"),
        ("LIVENESS_MODEL_DIR", 3, "directory path"),
        ("FACE_ENCODER", "tensorflow", "expected one of onnx, dlib"),
        ("FACE_ENCODER", 1, "expected one of onnx, dlib"),
        ("FACE_ENCODER", "", "expected one of onnx, dlib"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        build(**{key: value})
    assert str(err.value).startswith(f"{key}:")


def test_face_encoder_defaults_to_onnx_and_accepts_dlib_in_any_case() -> None:
    from webapp.face import DetectorSettings

    assert build().detector.encoder == "onnx" == DetectorSettings().encoder
    assert build(FACE_ENCODER=" DLIB ").detector.encoder == "dlib"
    with pytest.raises(ValueError, match="encoder must be one of"):
        DetectorSettings(encoder="caffe")


def test_flags_accept_the_spellings_an_environment_gives() -> None:
    assert build(PLANAR_CHECK="false").policy_knobs.planarity is None
    assert build(PLANAR_CHECK="true").policy_knobs.planarity is not None


def test_the_app_does_not_start_with_a_bad_value(tmp_path: Path) -> None:
    from webapp import create_app

    with pytest.raises(SettingsError, match=r"^LOCKOUT_SECONDS:"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://", "LOCKOUT_SECONDS": "soon"})


def test_no_config_parsing_outside_settings() -> None:
    """Rule of the layout: nothing but webapp/settings.py casts raw config values."""
    out = subprocess.run(
        ["grep", "-rnE", r"(int|float|bool)\((cfg|current_app\.config|app\.config)\[", "webapp"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    offenders = [line for line in out.stdout.splitlines() if not line.startswith("webapp/settings.py")]
    assert out.returncode in (0, 1), out.stderr  # 1 = no match; 2 = grep failed
    assert offenders == []


def test_turn_bands_are_ordered() -> None:
    with pytest.raises(SettingsError, match=r"^TURN_PARTIAL_DEGREES: must be below"):
        build(TURN_PARTIAL_DEGREES=18.0)
    with pytest.raises(SettingsError, match=r"^TURN_RETURN_DEGREES: must be below"):
        build(TURN_RETURN_DEGREES=18.0)
    assert build(TURN_PARTIAL_DEGREES=0.0).policy_knobs.steps.turn_partial == 0.0  # 0 switches the rule off
    assert build(TURN_MAX_FAST_RETURNS=0).policy_knobs.steps.turn_max_fast_returns == 0
    with pytest.raises(SettingsError, match=r"^TURN_MAX_FAST_RETURNS"):
        build(TURN_MAX_FAST_RETURNS=-1)


# --- screen light (LIGHT_*) ----------------------------------------------------------------


def test_screen_light_is_a_known_step_and_its_settings_reach_the_policy() -> None:
    cfg = build(CHALLENGE_STEPS=["blink", "screen_light"], CHALLENGE_COUNT=2, LIGHT_COLOURS=4, LIGHT_MAX_LAG_MS=400)
    light = cfg.policy(0.5, None).steps.light
    assert cfg.challenge.steps == ("blink", "screen_light")
    assert (light.colours, light.max_lag_ms, light.palette) == (4, 400, tuple(DEFAULTS["LIGHT_PALETTE"]))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("LIGHT_PALETTE", ["red", "ultraviolet"], "unknown colours"),
        ("LIGHT_PALETTE", ["red", "red"], "two different colours"),
        ("LIGHT_PALETTE", "red", "list of strings"),
        ("LIGHT_MIN_SECONDS", 0.2, "at least 0.33"),  # photosensitive safety: <= 3 changes a second
        ("LIGHT_MAX_SECONDS", 0.5, "at least LIGHT_MIN_SECONDS"),
        ("LIGHT_TRANSITION_MS", 900, "shorter than LIGHT_MIN_SECONDS"),
        ("LIGHT_COLOURS", 1, "at least 2"),
        ("LIGHT_MIN_CORRELATION", "high", "expected a number"),
        ("LIGHT_MIN_FRAMES", 2, "at least 3"),
    ],
)
def test_bad_light_settings_are_refused_naming_their_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        build(**{key: value})
    assert str(err.value).startswith(f"{key}:")


def test_a_light_sequence_longer_than_half_the_attempt_is_refused_when_drawn() -> None:
    build(LIGHT_COLOURS=30)  # not in the catalogue: not drawn, not checked
    with pytest.raises(SettingsError, match="half the attempt"):
        build(CHALLENGE_STEPS=["screen_light"], CHALLENGE_COUNT=1, LIGHT_COLOURS=30)

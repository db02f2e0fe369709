"""Challenge steps: small state machines fed one face observation at a time.

Each step keeps its progress in a JSON-able dict (stored with the attempt, so any worker can
continue it) and reports when it is complete. Thresholds are relative to the user's own
baseline (open-eye ratio, neutral yaw measured in the first frames of the attempt), because
eye shape and camera angle differ between people and set-ups.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FaceSignals:
    """The per-frame landmark measurements the steps read."""

    ear: float  # eye aspect ratio, both eyes
    yaw: float  # degrees, > 0 = turned to the user's left
    pitch: float
    face_px: int


@dataclass(frozen=True)
class Baseline:
    """The user's neutral pose, from the first face frames of the attempt."""

    ear: float
    yaw: float
    face_px: int


@dataclass(frozen=True)
class StepSettings:
    blink_closed_ratio: float = 0.75
    blink_reopen_ratio: float = 0.9
    turn_yaw: float = 18.0
    turn_return: float = 8.0


class Step(Protocol):
    name: str

    def prompt(self, progress: dict[str, Any]) -> str: ...

    def update(self, progress: dict[str, Any], signals: FaceSignals, base: Baseline, cfg: StepSettings) -> bool:
        """Advance ``progress`` (mutated in place) with one frame; True when the step is done."""
        ...


class BlinkStep:
    """Eyes close (EAR well below the user's open-eye EAR), then open again.

    Blinks last 100-400 ms; at a few frames per second a quick one can fall between frames,
    so the prompt asks for a slow blink and one closed frame suffices.
    """

    name = "blink"

    def prompt(self, progress: dict[str, Any]) -> str:
        return "Now open your eyes." if progress.get("closed") else "Blink slowly."

    def update(self, progress: dict[str, Any], signals: FaceSignals, base: Baseline, cfg: StepSettings) -> bool:
        if not progress.get("closed"):
            if signals.ear < cfg.blink_closed_ratio * base.ear:
                progress["closed"] = True
                progress["min_ear"] = round(signals.ear, 4)
            return False
        return signals.ear >= cfg.blink_reopen_ratio * base.ear


class TurnStep:
    """Head turned towards one side past ``turn_yaw`` degrees, then back towards the camera."""

    def __init__(self, direction: str) -> None:
        if direction not in ("left", "right"):
            raise ValueError(direction)
        self.direction = direction
        self.name = f"turn_{direction}"
        self._sign = 1.0 if direction == "left" else -1.0

    def prompt(self, progress: dict[str, Any]) -> str:
        if progress.get("turned"):
            return "Now look back at the camera."
        return f"Turn your head slowly to your {self.direction}."

    def update(self, progress: dict[str, Any], signals: FaceSignals, base: Baseline, cfg: StepSettings) -> bool:
        relative = self._sign * (signals.yaw - base.yaw)
        if not progress.get("turned"):
            if relative >= cfg.turn_yaw:
                progress["turned"] = True
                progress["max_yaw"] = round(relative, 2)
            return False
        return abs(signals.yaw - base.yaw) <= cfg.turn_return


STEPS: dict[str, Step] = {s.name: s for s in (BlinkStep(), TurnStep("left"), TurnStep("right"))}


def pick_challenge(catalogue: Sequence[str], count: int) -> list[str]:
    """``count`` distinct steps from ``catalogue`` in random order, drawn with the OS CSPRNG.

    The order matters as much as the choice: a recording made before the attempt cannot
    contain a sequence the server chose after the attempt started.
    """
    unknown = [s for s in catalogue if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown challenge steps: {unknown}")
    pool = list(dict.fromkeys(catalogue))
    return secrets.SystemRandom().sample(pool, min(count, len(pool)))

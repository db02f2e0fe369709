"""Track bridging geometry (webapp/challenge/bridge.py)."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.challenge.bridge import BridgeSettings, box_follows, face_inside

BOX = (100.0, 100.0, 200.0, 200.0)  # 100 px wide


def moved(dx: float, grow: float = 1.0) -> tuple[float, float, float, float]:
    cx, cy, half = 150.0 + dx, 150.0, 50.0 * grow
    return (cx - half, cy - half, cx + half, cy + half)


@pytest.mark.parametrize(
    ("dx", "grow", "dt", "follows"),
    [
        (30, 1.0, 0.125, True),  # 0.3 widths in one frame interval: a head turning
        (45, 1.0, 0.125, False),  # 0.45 widths in 125 ms: faster than a head
        (55, 1.0, 1.0, True),  # after a second, up to the cap
        (70, 1.0, 1.0, False),  # beyond the cap, whatever the gap
        (0, 1.5, 0.125, False),  # 40 % larger in 125 ms
        (0, 1.1, 0.125, True),
    ],
)
def test_a_box_follows_only_at_the_speed_of_a_head(dx: float, grow: float, dt: float, follows: bool) -> None:
    assert box_follows(BOX, moved(dx, grow), dt, BridgeSettings()) is follows


def test_the_returning_face_must_lie_inside_the_last_box() -> None:
    pts = np.array([[140.0, 140.0], [160.0, 160.0]])
    assert face_inside(pts, BOX)
    assert not face_inside(pts + 80.0, BOX)

"""The detector-gap study's bridge replay, on synthetic boxes (no shared data, no models)."""

from __future__ import annotations

from ml.studies.detector_gaps import bridge_gaps

FACE = (100.0, 100.0, 200.0, 200.0)


def shifted(dx: float) -> tuple[float, float, float, float]:
    return (FACE[0] + dx, FACE[1], FACE[2] + dx, FACE[3])


def test_a_followed_gap_is_bridged_and_a_hole_is_not() -> None:
    followed = [(0.0, [FACE], None), (0.125, [], shifted(20)), (0.25, [], shifted(40)), (0.375, [shifted(50)], None)]
    assert bridge_gaps(followed)[:2] == (1, 0)
    holed = [(0.0, [FACE], None), (0.125, [], shifted(20)), (0.25, [], None), (0.375, [shifted(50)], None)]
    bridged, lost, why = bridge_gaps(holed)
    assert (bridged, lost) == (0, 1) and why["no single confident box"] == 1
    jumped = [(0.0, [FACE], None), (0.125, [], shifted(90)), (0.25, [shifted(90)], None)]
    assert bridge_gaps(jumped)[:2] == (0, 1)
    # Misses before the first face or after the last are not gaps.
    assert bridge_gaps([(0.0, [], FACE), (0.125, [FACE], None), (0.25, [], FACE)])[:2] == (0, 0)

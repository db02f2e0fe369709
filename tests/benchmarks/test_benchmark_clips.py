"""The benchmarks' clip preparation runs against the studies' current API.

``benchmarks.load`` and ``benchmarks.login_cost`` import the prompted study inside their
functions, so a renamed helper there only shows when a benchmark is run by hand (the load
benchmark once failed on a ``baseline_start`` the study no longer had). This plays the part
both share on a real clip, in CI, where ../shared is present.
"""

from __future__ import annotations

import pytest

from ml.blink.paths import SHARED_VIDEOS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.dataset,
    pytest.mark.skipif(not (SHARED_VIDEOS / "apfol" / "real2.webm").is_file(), reason=f"shared videos not present at {SHARED_VIDEOS}"),
]


def test_the_load_benchmark_prepares_its_clip_script() -> None:
    from benchmarks.load import prepare_clip

    script, images, _src = prepare_clip("apfol/real2.webm", 480)
    assert script.frames and images
    assert 0 <= script.baseline < len(script.frames)
    assert script.segments, "no prompted step could be played from the clip"
    for start, end in script.segments.values():
        assert script.baseline <= start <= end < len(script.frames)  # the baseline comes first

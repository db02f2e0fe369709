"""Where the blink tools read videos and write caches, runs and the shipped model."""

from __future__ import annotations

from ml.paths import CACHE_DIR, REPO_ROOT, RUNS_DIR

# The shared, read-only videos (never committed; see ../shared/datasets/README.md).
SHARED_VIDEOS = REPO_ROOT.parent / "shared" / "datasets" / "videos"
SHARED_IDENTITY = REPO_ROOT.parent / "shared" / "datasets" / "identity"
TRACKS_DIR = CACHE_DIR / "blink" / "tracks"
BLINK_RUNS = RUNS_DIR / "blink"
BLINK_ASSETS = REPO_ROOT / "webapp" / "assets" / "blink"

# Live clips: training and held-out evaluation (one person each; sivakumar holds five people).
LIVE_VIDEOS = (
    "sivakumar/Arun.mp4",
    "sivakumar/Bala.mp4",
    "sivakumar/Jaya.mp4",
    "sivakumar/Kevin.mp4",
    "sivakumar/Siva.mp4",
    "tranvanluyt/real.mp4",
    "jomariya/real_1.mp4",
    "apfol/real2.webm",
    "krzysiek/real.mp4",
)
# Replays (a screen showing a recorded person): evaluation only, never training.
REPLAY_VIDEOS = ("apfol/fake2.webm", "manikantha/fake.mp4", "tranvanluyt/fake.mp4")

"""Default locations of data, caches, run outputs and shipped models (all overridable by CLI flags)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared, read-only presentation-attack sets (never committed; see ../shared/datasets/README.md).
SHARED_PAD = REPO_ROOT.parent / "shared" / "datasets" / "pad"
# Detections and crops derived from datasets stay out of git (.cache/ is ignored).
CACHE_DIR = Path(os.environ.get("LIVEGATE_ML_CACHE", REPO_ROOT / ".cache" / "ml"))
RUNS_DIR = REPO_ROOT / "runs"
MODELS_DIR = REPO_ROOT / "webapp" / "assets" / "models"

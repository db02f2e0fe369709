"""``python -m ml.evaluate`` runs with the serving requirements only (issue 8, item 6).

A deployment judges the shipped ensemble on its own images with the packages it serves with:
no scipy, TensorFlow, Keras, scikit-learn or matplotlib. The evaluator runs here in a child
process whose importer refuses those packages, on the shipped models (MiniFASNet behind
RetinaFace), with enrollment on, so an import that crept into its path fails this test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ml.paths import REPO_ROOT

TRAINING_ONLY = ("scipy", "tensorflow", "keras", "sklearn", "matplotlib", "torch")

CHILD = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is a training requirement, not a serving one")
        return None
sys.meta_path.insert(0, Refuse())
from ml.evaluate import main
main({argv!r})
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
"""


@pytest.mark.slow
def test_evaluate_runs_without_training_packages(tiny_pad: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    argv = ["--data", str(tiny_pad), "--json", str(out), "--enroll", "2", "--bootstrap", "10"]
    child = CHILD.format(blocked=TRAINING_ONLY, argv=argv)
    proc = subprocess.run([sys.executable, "-c", child], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["n_live"] > 0 and doc["n_spoof"] > 0
    assert 0.0 <= doc["bpcer"] <= 1.0 and 0.0 <= doc["apcer_max"] <= 1.0

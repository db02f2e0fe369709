"""The service never depends on the training side: no ml, TensorFlow or Keras imports in webapp/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
FORBIDDEN = ("ml", "tensorflow", "keras", "tf2onnx")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(WEBAPP.rglob("*.py")), ids=lambda p: str(p.relative_to(WEBAPP)))
def test_webapp_module_imports_no_training_code(path: Path) -> None:
    assert not (_imports(path) & set(FORBIDDEN))


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom ml.train import train\n")
    assert _imports(bad) & set(FORBIDDEN) == {"ml"}

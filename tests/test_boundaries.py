"""The service never depends on the training side: webapp/ imports no ml, TensorFlow, Keras,
tf2onnx or PyTorch, neither in its source (every import statement, including those inside
functions) nor at run time (importing every webapp module in a fresh interpreter loads none
of them). Each check is also shown to fail on code that breaks the rule.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
WEBAPP = REPO_ROOT / "webapp"
FORBIDDEN = frozenset({"ml", "tensorflow", "keras", "tf_keras", "tf2onnx", "torch", "torchvision"})


def imported_names(path: Path) -> set[str]:
    """Top-level names of every absolute import in the file (at any depth, not just module level)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value.split(".")[0])
    return names


def _is_dynamic_import(func: ast.expr) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


_LOADED_BY_IMPORTING = """
import importlib, json, sys
from pathlib import Path

package, root, forbidden = sys.argv[1], Path(sys.argv[2]), set(json.loads(sys.argv[3]))
before = {name.split(".")[0] for name in sys.modules}
modules = []
for path in sorted((root / package).rglob("*.py")):
    parts = path.relative_to(root).with_suffix("").parts
    modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
for name in modules:
    importlib.import_module(name)
loaded = {name.split(".")[0] for name in sys.modules} - before
print(json.dumps({"modules": modules, "forbidden": sorted(loaded & forbidden)}))
"""


def loaded_by_importing(package: str, root: Path, extra_path: Path | None = None) -> dict[str, list[str]]:
    """Import every module of ``package`` (found under ``root``) in a fresh interpreter; the
    modules imported, and which forbidden top-level packages ended up in sys.modules."""
    path = [str(root)] + ([str(extra_path)] if extra_path else [])
    code = f"import sys; sys.path[:0] = {path!r}\n" + _LOADED_BY_IMPORTING
    proc = subprocess.run(
        [sys.executable, "-c", code, package, str(root), json.dumps(sorted(FORBIDDEN))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", sorted(WEBAPP.rglob("*.py")), ids=lambda p: str(p.relative_to(WEBAPP)))
def test_webapp_module_imports_no_training_code(path: Path) -> None:
    assert not (imported_names(path) & FORBIDDEN)


def test_importing_every_webapp_module_loads_no_training_code() -> None:
    result = loaded_by_importing("webapp", REPO_ROOT)
    assert "webapp.cli" in result["modules"] and "webapp.login.policy" in result["modules"]
    assert result["forbidden"] == []


def test_the_source_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import numpy\n"
        "from ml.train import train\n"
        "def later():\n"
        "    import torch.nn\n"
        "    import importlib\n"
        "    return importlib.import_module('tensorflow.keras')\n"
        "from . import sibling\n"
    )
    assert imported_names(bad) & FORBIDDEN == {"ml", "torch", "tensorflow"}


def test_the_run_time_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """A package whose module imports (a stand-in for) torch is caught by the subprocess check."""
    stubs = tmp_path / "stubs"
    (stubs / "torch").mkdir(parents=True)
    (stubs / "torch" / "__init__.py").write_text("")
    (tmp_path / "fakeapp" / "sub").mkdir(parents=True)
    (tmp_path / "fakeapp" / "__init__.py").write_text("")
    (tmp_path / "fakeapp" / "sub" / "__init__.py").write_text("")
    (tmp_path / "fakeapp" / "sub" / "model.py").write_text("import json\nimport torch\n")
    result = loaded_by_importing("fakeapp", tmp_path, extra_path=stubs)
    assert result["modules"] == ["fakeapp", "fakeapp.sub", "fakeapp.sub.model"]
    assert result["forbidden"] == ["torch"]

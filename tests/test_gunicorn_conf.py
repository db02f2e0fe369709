"""gunicorn.conf.py's server hooks: gunicorn reads them as module attributes, so a hook defined
twice keeps only its last body, silently. That is how the dlib preload was lost once (a second
``on_starting`` for the metrics folder replaced it) and workers loaded a copy each."""

from __future__ import annotations

import ast
import runpy
from pathlib import Path
from typing import Any

import pytest

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(msg % args if args else msg)


class _Server:
    def __init__(self) -> None:
        self.log = _Log()


def test_no_hook_or_setting_is_defined_twice() -> None:
    names: list[str] = []
    for node in ast.parse(CONF.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    assert sorted({n for n in names if names.count(n) > 1}) == []


@pytest.mark.parametrize("preload", ["1", "0"])
def test_on_starting_empties_the_metrics_folder_and_preloads_dlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preload: str) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    monkeypatch.setenv("LIVEGATE_PRELOAD_DLIB", preload)
    loads: list[str] = []
    monkeypatch.setattr("webapp.face.engine.FaceEngine.load", lambda self: loads.append(self.settings.encoder))
    conf = runpy.run_path(str(CONF))
    server = _Server()
    conf["on_starting"](server)
    assert metrics_dir.is_dir() and not any(metrics_dir.iterdir())
    assert loads == (["onnx"] if preload == "1" else [])  # dlib's own ResNet is not loaded
    assert ("dlib models loaded before fork" in server.log.lines) == (preload == "1")


def test_on_starting_preloads_dlibs_encoder_only_when_the_environment_selects_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.setenv("LIVEGATE_PRELOAD_DLIB", "1")
    monkeypatch.setenv("FLASK_FACE_ENCODER", '"dlib"')  # Flask's prefixed env may hold JSON
    loads: list[str] = []
    monkeypatch.setattr("webapp.face.engine.FaceEngine.load", lambda self: loads.append(self.settings.encoder))
    runpy.run_path(str(CONF))["on_starting"](_Server())
    assert loads == ["dlib"]

"""The install and run paths stay the ones the README documents (CI proves them)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_has_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make serve" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_dockerfile_runs_the_makefile_steps() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RUN make install" in dockerfile
    assert 'CMD ["make", "run"]' in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^serve: \$\(VENV\)/\.serve-installed run$", makefile, re.M)


def test_serving_requirements_are_pinned_and_have_no_training_stack() -> None:
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln]
    assert not [r for r in reqs if re.match(r"(tensorflow|keras|tf2onnx|torch)", r, re.I)]
    loose = [r for r in reqs if not r.startswith("./") and "==" not in r and not r.startswith("setuptools<")]
    assert loose == []


def test_compose_file_is_valid() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose; .ci/run does)")
    proc = subprocess.run([exe, "-f", str(ROOT / "compose.yaml"), "config"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "livegate-instance:/app/instance" in proc.stdout


def test_compose_scale_profile_is_valid() -> None:
    """`docker compose --profile scale`: PostgreSQL, Redis, a one-shot migration, the replicas
    (sharing one instance volume, so one secret key) and the proxy in front of them."""

    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose; .ci/run does)")
    base = [exe, "-f", str(ROOT / "compose.yaml"), "--profile", "scale", "config"]
    proc = subprocess.run([*base, "--services"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {"postgres", "redis", "migrate", "livegate-replica", "proxy"} <= set(proc.stdout.split())
    full = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert full.returncode == 0, full.stderr
    for expected in ("DATABASE_URL: postgresql://livegate:", "REDIS_URL: redis://redis:6379/0", "replicas: 3", "livegate-scale-instance"):
        assert expected in full.stdout, expected

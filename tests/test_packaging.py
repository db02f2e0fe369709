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


def test_dockerfile_is_multi_stage_with_a_slim_non_root_runtime() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    builder, _, runtime = dockerfile.partition("AS runtime")
    assert "AS builder" in builder and "RUN make install" in builder  # the README's install step
    assert runtime, "no runtime stage"
    assert "make" not in re.sub(r"#.*", "", runtime).replace("Makefile", "").split()  # no make in the image that runs
    assert "build-essential" not in runtime and "requirements-dev" not in dockerfile and "requirements-train" not in dockerfile
    assert "COPY --from=builder /app/.venv" in runtime
    assert re.search(r"^USER livegate$", runtime, re.M) and "HEALTHCHECK" in runtime
    assert "db upgrade" in runtime and "gunicorn -c gunicorn.conf.py" in runtime
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^serve: \$\(VENV\)/\.serve-installed run$", makefile, re.M)


def test_tests_and_tools_use_their_own_environment() -> None:
    """`make test` installs requirements-dev.txt into .venv-dev, never into the serving .venv."""
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^DEV_VENV \?= \.venv-dev$", makefile, re.M)
    assert re.search(r"^test: \$\(DEV_VENV\)/\.dev-installed$", makefile, re.M)
    serving = makefile.split("$(VENV)/.serve-installed:")[1].split("\n\n")[0]
    assert "requirements.txt" in serving and "requirements-dev" not in serving and "requirements-train" not in serving
    dev = makefile.split("$(DEV_VENV)/.dev-installed:")[1].split("\n\n")[0]
    assert "$(DEV_BIN)/python -m pip install -r requirements-dev.txt" in dev


def test_serving_requirements_are_pinned_and_have_no_training_stack() -> None:
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln]
    assert not [r for r in reqs if re.match(r"(tensorflow|keras|tf2onnx|torch)", r, re.I)]
    loose = [r for r in reqs if not r.startswith("./") and "==" not in r and not r.startswith("setuptools<")]
    assert loose == []


def compose_profiles() -> list[str]:
    """Every profile named in compose.yaml (whoever added it)."""
    text = (ROOT / "compose.yaml").read_text()
    found = set()
    for names in re.findall(r"^\s*profiles:\s*\[([^\]]*)\]", text, re.M):
        found |= {n.strip().strip("\"'") for n in names.split(",") if n.strip()}
    return sorted(found)


@pytest.mark.parametrize("profile", [None, *compose_profiles()])
def test_compose_file_is_valid(profile: str | None) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose; .ci/run does)")
    args = [exe, "-f", str(ROOT / "compose.yaml")] + (["--profile", profile] if profile else []) + ["config"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "livegate-instance:/app/instance" in proc.stdout


def test_the_https_profile_puts_caddy_in_front() -> None:
    assert "https" in compose_profiles()
    caddyfile = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert "reverse_proxy livegate:8000" in caddyfile and "respond @metrics 404" in caddyfile


def test_flaskenv_names_the_app_and_dotenv_is_a_serving_dependency() -> None:
    assert re.search(r"^FLASK_APP=webapp$", (ROOT / ".flaskenv").read_text(), re.M)
    assert re.search(r"^python-dotenv==", (ROOT / "requirements.txt").read_text(), re.M)


def test_flask_finds_the_app_without_the_app_option() -> None:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k != "FLASK_APP"}
    command = [sys.executable, "-m", "flask", "users", "--help"]  # .flaskenv is read from the working directory
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "End-user accounts and face enrollment" in proc.stdout


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

"""Operator kit: /metrics (Prometheus text), JSON logs with request ids, one decision record
per attempt without secrets, and the settings that switch them."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.support.api import follow_prompts, start
from tests.support.frames import jittered_frames
from webapp.ops.logs import DECISION_LOGGER, JsonFormatter
from webapp.ops.metrics import SUBSTAGES
from webapp.settings import SettingsError


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        metric, _, rest = key.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and got == want:
            return float(value)
    return 0.0


def test_metrics_endpoint_speaks_prometheus(client: FlaskClient) -> None:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    families = ("livegate_login_attempts", "livegate_frame_stage_seconds", "livegate_frame_substage_seconds", "livegate_attempt_live_score")
    for family in (*families, "livegate_model_info"):
        assert f"# TYPE {family}" in text


@pytest.mark.parametrize("app_config", [{"METRICS_ENABLED": False}])
def test_metrics_can_be_switched_off(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_an_expired_attempt_is_counted_and_logged_once(app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    from webapp.db.extensions import db
    from webapp.db.models import LoginAttempt

    before = _sample(client.get("/metrics").get_data(as_text=True), "livegate_login_attempts_total", decision="denied", reason="timeout")
    attempt_id = start(client, "nobody").get_json()["attempt_id"]
    with app.app_context():
        row = db.session.scalar(sa.select(LoginAttempt).where(LoginAttempt.public_id == attempt_id))
        assert row is not None
        row.expires_at = row.created_at - timedelta(seconds=1)
        db.session.commit()
    with caplog.at_level(logging.INFO, logger=DECISION_LOGGER):
        for _ in range(2):  # the second touch answers 410 again, without a second decision
            assert client.post(f"/api/v1/login/{attempt_id}/frames", data={}).status_code == 410
    after = _sample(client.get("/metrics").get_data(as_text=True), "livegate_login_attempts_total", decision="denied", reason="timeout")
    assert after == before + 1
    records = [r for r in caplog.records if r.name == DECISION_LOGGER]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["decision"] == "denied" and line["reason"] == "timeout" and line["username"] == "nobody"
    assert attempt_id not in json.dumps(line)  # the public attempt id lets a client post frames


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    given = client.get("/login", headers={"X-Request-ID": "proxy-abc-12345"})
    assert given.headers["X-Request-ID"] == "proxy-abc-12345"
    made = client.get("/login", headers={"X-Request-ID": "bad id <script>"})
    assert made.headers["X-Request-ID"] != "bad id <script>" and len(made.headers["X-Request-ID"]) == 16


def test_json_lines_carry_the_request_id(app: Flask) -> None:
    formatter = JsonFormatter()
    with app.test_request_context("/x"):
        from flask import g

        g.request_id = "req-0123456789"
        record = logging.LogRecord("webapp.test", logging.WARNING, __file__, 1, "hello %s", ("there",), None)
        record.attempt = 7
        line = json.loads(formatter.format(record))
    assert line["message"] == "hello there" and line["level"] == "warning" and line["request_id"] == "req-0123456789"
    assert line["attempt"] == 7 and line["time"].endswith("Z")


@pytest.mark.parametrize("value", ["LOUD", 3])
def test_bad_log_level_stops_start_up(app_factory: Any, value: object) -> None:
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        app_factory(LOG_LEVEL=value)


@pytest.mark.slow  # dlib: a real login
def test_metrics_scraped_after_a_login(app: Flask, client: FlaskClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.api.test_login_api import send_all

    text = client.get("/metrics").get_data(as_text=True)
    granted = _sample(text, "livegate_login_attempts_total", decision="granted", reason="none")
    analysed = _sample(text, "livegate_frame_stage_seconds_count", stage="analysis")
    substages = {name: _sample(text, "livegate_frame_substage_seconds_count", stage=name) for name in SUBSTAGES}
    substages["detection_sum"] = _sample(text, "livegate_frame_substage_seconds_sum", stage="detection")
    body = start(client).get_json()
    follow_prompts(monkeypatch, body["challenge"]["steps"])
    bodies = send_all(client, body["attempt_id"], jittered_frames(12))
    assert bodies[-1]["state"] == "granted"
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "livegate_login_attempts_total", decision="granted", reason="none") == granted + 1
    assert _sample(text, "livegate_frame_stage_seconds_count", stage="analysis") == analysed + len(bodies)
    assert _sample(text, "livegate_frame_stage_seconds_count", stage="decode") >= len(bodies)
    # Inside the phases: every frame was looked up, searched for faces, decided and written;
    # the frames that showed one face were measured and scored.
    for name in ("replay", "detection", "policy", "db"):
        assert _sample(text, "livegate_frame_substage_seconds_count", stage=name) == substages[name] + len(bodies), name
    for name in ("landmarks_encoding", "liveness"):
        assert substages[name] < _sample(text, "livegate_frame_substage_seconds_count", stage=name) <= substages[name] + len(bodies)
    assert _sample(text, "livegate_frame_substage_seconds_sum", stage="detection") > substages["detection_sum"]
    assert _sample(text, "livegate_attempt_live_score_count", decision="granted") >= 1
    assert _sample(text, "livegate_attempt_identity_distance_count", decision="granted") >= 1
    assert 'livegate_model_info{name="ensemble",role="ensemble",version=' in text
    assert "alice" not in text and body["attempt_id"] not in text  # codes only, no identities


def test_multiprocess_mode_adds_up_every_worker(tmp_path: Any) -> None:
    """What gunicorn.conf.py sets up: two processes record, a third one's scrape sees both."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = (
        "from webapp.ops.metrics import frame_substages, record_decision, substage\n"
        "record_decision('denied', 'spoof', 0.2, 0.4)\n"
        "with frame_substages():\n"
        "    with substage('detection'): pass\n"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], env=env, check=True, cwd=os.getcwd())
    scrape = "from webapp.ops.metrics import exposition; print(exposition()[0].decode())"
    out = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True, cwd=os.getcwd()).stdout
    assert _sample(out, "livegate_login_attempts_total", decision="denied", reason="spoof") == 2.0
    assert _sample(out, "livegate_attempt_live_score_count", decision="denied") == 2.0
    assert _sample(out, "livegate_frame_substage_seconds_count", stage="detection") == 2.0


def test_substages_add_up_within_a_frame_and_time_nothing_outside_one() -> None:
    """Each sub-stage is observed once per frame with its total; outside a frame (benchmarks,
    enrollment) the timers record nothing."""
    from prometheus_client import REGISTRY

    from webapp.ops.metrics import frame_substages, substage

    def count(name: str) -> float:
        return REGISTRY.get_sample_value("livegate_frame_substage_seconds_count", {"stage": name}) or 0.0

    before = {name: count(name) for name in SUBSTAGES}
    with substage("detection"):
        pass
    assert count("detection") == before["detection"]
    with frame_substages():
        for _ in range(3):
            with substage("replay"):
                pass
        with pytest.raises(ZeroDivisionError), substage("policy"):
            _ = 1 / 0  # a stage that raised took time too
    assert count("replay") == before["replay"] + 1
    assert count("policy") == before["policy"] + 1
    assert count("liveness") == before["liveness"]  # a stage that did not run is not observed

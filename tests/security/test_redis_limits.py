"""Per-address limits shared through Redis: two apps (two machines, or two gunicorn workers)
count one client's starts together. Runs when LIVEGATE_TEST_REDIS_URL names a Redis server
(.ci/run starts Debian's redis-server for its PostgreSQL pass); skipped otherwise."""

from __future__ import annotations

import os
import secrets

import pytest

from tests.conftest import AppFactory

REDIS = os.environ.get("LIVEGATE_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS, reason="LIVEGATE_TEST_REDIS_URL not set (no Redis server for this run)")


def test_two_apps_share_one_clients_start_limit(app_factory: AppFactory) -> None:
    prefix = f"shared-{secrets.token_hex(8)}"  # the two apps, and nothing else, share counters
    config = {
        "REDIS_URL": REDIS,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATE_LIMIT_ATTEMPTS": 2,
        "RATE_LIMIT_WINDOW_SECONDS": 60,
        "TRUSTED_PROXIES": 1,
    }
    first, second = app_factory(**config), app_factory(**config)
    # A fresh client address per run: the moving window lives in Redis, beyond this test.
    addr = {"X-Forwarded-For": f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"}
    a, b = first.test_client(), second.test_client()
    assert a.post("/api/v1/login/start", json={"username": "alice"}, headers=addr).status_code == 201
    assert b.post("/api/v1/login/start", json={"username": "alice"}, headers=addr).status_code == 201
    third = a.post("/api/v1/login/start", json={"username": "alice"}, headers=addr)
    assert third.status_code == 429 and third.get_json()["error"] == "rate_limited"
    assert b.post("/api/v1/login/start", json={"username": "alice"}, headers=addr).status_code == 429
    # Another client is not affected.
    other = {"X-Forwarded-For": f"198.19.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"}
    assert b.post("/api/v1/login/start", json={"username": "alice"}, headers=other).status_code == 201

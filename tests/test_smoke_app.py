from __future__ import annotations

import pytest


@pytest.mark.slow  # /healthz loads the dlib face models to report them
def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert "redblue" in body["models"]

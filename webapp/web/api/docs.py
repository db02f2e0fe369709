"""GET /api/v1/openapi.json: the OpenAPI 3 description of this API (openapi.json beside this
file), kept in sync with the routes by tests/security/test_openapi.py and fuzzed against a live
server by tests/fuzz/."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response, jsonify

from webapp.web.api import bp

DOCUMENT = Path(__file__).resolve().parent / "openapi.json"


@cache
def openapi_document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text())  # type: ignore[no-any-return]


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())

"""Structured logs: one JSON object per line, each with the request id, and one decision
record per login attempt.

The request id is the caller's ``X-Request-ID`` when it is a short token (a proxy's), else a
new one; it is echoed in the response and carried by every log line of that request. The
decision record holds what an operator needs to follow an attempt (internal attempt number,
claimed username, decision, reason, challenge, counts, scores, durations): never frames,
encodings, tokens, session ids or the attempt's public id (it lets a client post frames).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

DECISION_LOGGER = "livegate.decision"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_HANDLER_NAME = "livegate-json"
# LogRecord attributes that are not extra fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def configure_logging(app: Flask, json_logs: bool, level: str) -> None:
    """JSON lines on stderr for the service's loggers (``webapp.*``, ``livegate.*``), once per
    process; request ids on every request."""
    if json_logs:
        for name in ("webapp", "livegate"):
            logger = logging.getLogger(name)
            if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
                handler = logging.StreamHandler(sys.stderr)
                handler.set_name(_HANDLER_NAME)
                handler.setFormatter(JsonFormatter())
                logger.addHandler(handler)
                logger.propagate = False
            logger.setLevel(level.upper())

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)

    @app.after_request
    def _echo_request_id(resp: Response) -> Response:
        if g.get("request_id"):
            resp.headers["X-Request-ID"] = g.request_id
        return resp


def log_decision(**record: Any) -> None:
    """One line per decided attempt (logger ``livegate.decision``)."""
    logging.getLogger(DECISION_LOGGER).info("attempt decided", extra={"event": "decision", **record})

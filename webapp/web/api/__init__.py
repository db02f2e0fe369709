"""JSON API, version 1 (shared/spec/http-api.md)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from webapp.web.api import admin, docs, login  # noqa: E402,F401  (routes register on import)

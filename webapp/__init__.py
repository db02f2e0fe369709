"""LiveGate: face login with a liveness gate.

``create_app`` is the application factory used by gunicorn (``webapp:create_app()``), the
``flask --app webapp`` CLI and the tests.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, redirect, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.config import DEFAULTS
from webapp.settings import EXTENSION_KEY as SETTINGS_KEY
from webapp.settings import Settings, SettingsError
from webapp.web.headers import content_security_policy

SECRET_FILE = "secret_key"
# The login and enrollment pages need the camera, from our own origin only; nothing else.
_PERMISSIONS = "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), display-capture=()"
_HSTS = "max-age=31536000; includeSubDomains"


def _instance_secret(instance: Path) -> str:
    """Read the instance's secret key, generating it on first run.

    Written to a temporary file and linked into place, so gunicorn workers starting at the
    same moment all end up with the one key that won the race, never a half-written file.
    """
    path = instance / SECRET_FILE
    if not path.exists():
        tmp = instance / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env()

    instance = Path(app.instance_path)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)  # secret key, template keys, database
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)
    from webapp.db.engine import database_uri, engine_options

    uri = database_uri(app.config.get("SQLALCHEMY_DATABASE_URI"), os.environ, instance)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(uri))
    # Every knob parsed and validated now: a bad value stops the app here, naming its key.
    cfg = Settings.from_config(app.config)
    from webapp.web.texts import catalogue

    catalogue(cfg.ui_language, cfg.ui_texts_file)  # a broken texts file stops start-up too
    app.extensions[SETTINGS_KEY] = cfg
    app.config["PERMANENT_SESSION_LIFETIME"] = cfg.session_lifetime_seconds
    if cfg.trusted_proxies > 0:
        n = cfg.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    from webapp.accounts import sealing
    from webapp.db import extensions
    from webapp.db.engine import configure_engine

    try:
        app.extensions[sealing.EXTENSION_KEY] = sealing.load_keyring(
            cfg.template_keys, cfg.template_key_file or instance / sealing.KEY_FILE
        )
    except ValueError as exc:
        raise SettingsError(f"TEMPLATE_KEYS: {exc}") from None

    extensions.db.init_app(app)
    # Batch mode: SQLite cannot ALTER most things, Alembic rebuilds the table instead.
    migrations = Path(__file__).resolve().parent.parent / "migrations"
    extensions.migrate.init_app(app, extensions.db, directory=str(migrations), render_as_batch=True, compare_type=True)
    extensions.login_manager.init_app(app)
    with app.app_context():
        configure_engine(extensions.db.engine)  # SQLite: files 0600, secure_delete

    _register(app)
    from webapp.login.throttle import init_limits

    init_limits(app, cfg.throttle)  # after the blueprints: it wraps their views

    if cfg.models.preload:
        from webapp.runtime.worker import EXTENSION_KEY, build_runtime

        app.extensions[EXTENSION_KEY] = build_runtime(app)
    return app


def _register(app: Flask) -> None:
    from webapp.accounts import security
    from webapp.cli import register_cli
    from webapp.db.extensions import login_manager
    from webapp.errors import Unauthorized, register_error_handlers
    from webapp.login import device
    from webapp.ops.logs import configure_logging
    from webapp.web.admin import bp as admin_bp
    from webapp.web.api import bp as api_bp
    from webapp.web.health import bp as health_bp
    from webapp.web.metrics import bp as metrics_bp
    from webapp.web.pages import bp as pages_bp

    cfg = app.extensions[SETTINGS_KEY]
    configure_logging(app, cfg.log_json, cfg.log_level)
    if cfg.metrics_enabled:
        app.register_blueprint(metrics_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(health_bp)
    register_error_handlers(app)
    register_cli(app)
    from webapp import oidc

    oidc.init_app(app)  # OpenID Connect provider: /.well-known/openid-configuration, /oidc/*

    @app.before_request
    def _same_origin() -> None:
        security.check_same_origin()

    @app.after_request
    def _headers(resp: Response) -> Response:
        device.issue_cookie(resp)
        # The login page needs the camera; nothing may frame our pages (clickjacking).
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy", content_security_policy())
        resp.headers.setdefault("Permissions-Policy", _PERMISSIONS)
        if request.is_secure:  # HTTPS (directly, or through TRUSTED_PROXIES' X-Forwarded-Proto)
            resp.headers.setdefault("Strict-Transport-Security", _HSTS)
        if not request.path.startswith("/static/"):
            # Pages and API answers show accounts, attempts and tokens: never kept by a cache.
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @login_manager.unauthorized_handler
    def _unauthorized() -> Response:
        if request.path.startswith("/api/"):
            raise Unauthorized()
        if request.path.startswith("/admin"):
            return redirect(url_for("admin.login", next=request.path))  # type: ignore[return-value]
        return redirect(url_for("pages.login", next=request.path))  # type: ignore[return-value]

    @app.get("/favicon.ico")
    def _favicon() -> tuple[Response, int]:
        return jsonify({}), 204

"""OpenID Connect provider: other applications sign their users in with LiveGate's face login.

Built on Authlib's authorization-server components (``authlib.integrations.flask_oauth2``,
``authlib.oidc.core``): this package supplies only what Authlib leaves to the application,
in small modules with one job each:

- ``settings``: the typed lifetimes and signing choices (parsed in ``webapp/settings.py``);
- ``models``: clients, authorization codes, access tokens, subject identifiers (tables);
- ``clients``: registering, listing, rotating secrets and deleting clients (never commits);
- ``keys``: the ID-token signing keys in the instance folder, and their rotation;
- ``claims``: what a face login proves (``amr``, ``acr``, ``auth_time``) and the user claims;
- ``grants``: the Authlib grant, PKCE, token validator and endpoint subclasses;
- ``server``: the one ``AuthorizationServer`` and ``ResourceProtector`` of the app;
- ``flow``: the pending authorization request kept server-side while the user logs in;
- ``routes``: the HTTP endpoints (discovery, JWKS, authorize, token, userinfo, logout);
- ``admin``: the admin pages for clients; ``cli``: ``flask clients ...`` and ``flask oidc ...``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Bind the provider to ``app``: tables, server, blueprints, CLI."""
    from webapp.oidc import models  # noqa: F401  (tables in the metadata, for migrations)
    from webapp.oidc.admin import bp as admin_bp
    from webapp.oidc.cli import register_cli
    from webapp.oidc.routes import bp
    from webapp.oidc.server import init_server

    init_server(app)
    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    register_cli(app)

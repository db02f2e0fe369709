"""A relying party that signs its users in with LiveGate: the whole OpenID Connect round trip
in a few dozen lines of Authlib's Flask client (discovery, PKCE, nonce, ID-token checks).

    LIVEGATE_ISSUER=http://127.0.0.1:8000 LIVEGATE_CLIENT_ID=demo LIVEGATE_CLIENT_SECRET=... \\
        flask --app examples.relying_party.app run --port 5001

Register it first: flask --app webapp clients add demo --redirect-uri http://127.0.0.1:5001/callback
--post-logout-redirect-uri http://127.0.0.1:5001/ --skip-consent
"""

from __future__ import annotations

import os
import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, render_template_string, session, url_for

PAGE = """<!doctype html><title>Demo app</title>
{% if user %}<h1 id="signed-in">Signed in as {{ user.get('name') }}</h1>
<dl id="claims">{% for k, v in user.items() %}<dt>{{ k }}</dt><dd data-claim="{{ k }}">{{ v }}</dd>{% endfor %}</dl>
<a id="logout" href="{{ url_for('logout') }}">Sign out</a>
{% else %}<h1>Demo app</h1><a id="login" href="{{ url_for('login') }}">Sign in with LiveGate</a>{% endif %}"""


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("RP_SECRET_KEY") or secrets.token_hex(32),
        # In the demo LiveGate runs on the same host: cookies ignore ports, so use our own name.
        SESSION_COOKIE_NAME="rp_session",
        LIVEGATE_ISSUER=os.environ.get("LIVEGATE_ISSUER", "http://127.0.0.1:8000"),
        LIVEGATE_CLIENT_ID=os.environ.get("LIVEGATE_CLIENT_ID", "demo"),
        LIVEGATE_CLIENT_SECRET=os.environ.get("LIVEGATE_CLIENT_SECRET"),
    )
    app.config.update(config or {})
    oauth = OAuth(app)
    livegate = oauth.register(
        "livegate",
        client_id=app.config["LIVEGATE_CLIENT_ID"],
        client_secret=app.config["LIVEGATE_CLIENT_SECRET"],
        server_metadata_url=app.config["LIVEGATE_ISSUER"].rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )

    @app.get("/")
    def home() -> str:
        return render_template_string(PAGE, user=session.get("user"))

    @app.get("/login")
    def login() -> Any:
        return livegate.authorize_redirect(url_for("callback", _external=True))

    @app.get("/callback")
    def callback() -> Any:
        token = livegate.authorize_access_token()  # checks state, exchanges the code, verifies the ID token and its nonce
        session["user"] = dict(token["userinfo"])
        session["id_token"] = token["id_token"]
        return redirect(url_for("home"))

    @app.get("/logout")
    def logout() -> Any:
        id_token = session.pop("id_token", None)
        session.clear()
        end = livegate.load_server_metadata()["end_session_endpoint"]
        query = {"post_logout_redirect_uri": url_for("home", _external=True)} | ({"id_token_hint": id_token} if id_token else {})
        return redirect(f"{end}?{urlencode(query)}")

    return app

"""Command line: ``flask --app webapp clients ...`` and ``flask --app webapp oidc rotate-key``."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import utcnow
from webapp.errors import ApiError
from webapp.oidc import keys
from webapp.oidc.clients import SCOPES, add_client, delete_client, find_client, list_clients, rotate_secret
from webapp.oidc.server import key_path
from webapp.settings import settings

clients_cli = AppGroup("clients", help="OpenID Connect clients (applications that sign users in with LiveGate).")
oidc_cli = AppGroup("oidc", help="The OpenID Connect provider's signing keys.")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@clients_cli.command("add")
@click.argument("client_id")
@click.option("--name", default=None, help="Shown on the consent screen (default: CLIENT_ID).")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="An exact redirect URI (repeatable).")
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True, help="Where RP-initiated logout may return (repeatable).")
@click.option("--scope", "scopes", multiple=True, default=SCOPES, show_default=True, help="An allowed scope (repeatable).")
@click.option("--public", is_flag=True, help="A public client (browser or native app): no secret, PKCE required.")
@click.option("--skip-consent", is_flag=True, help="A first-party app: sign users in without the consent screen.")
def clients_add(
    client_id: str,
    name: str | None,
    redirect_uris: tuple[str, ...],
    logout_uris: tuple[str, ...],
    scopes: tuple[str, ...],
    public: bool,
    skip_consent: bool,
) -> None:
    """Register CLIENT_ID; prints its secret once (only a hash is stored)."""
    try:
        reg = add_client(
            client_id,
            name=name,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=logout_uris,
            scopes=scopes,
            public=public,
            skip_consent=skip_consent,
        )
    except ApiError as exc:
        _fail(exc.description or exc.error)
    c = reg.client
    audit("oidc_client_added", actor="cli", client_id=c.client_id, public=public, scopes=c.scopes, redirect_uris=c.redirect_uris)
    db.session.commit()
    click.echo(f"client_id: {c.client_id}")
    if reg.secret:
        click.echo(f"client_secret: {reg.secret}")
        click.echo("(shown once: store it in the application's settings now)", err=True)


@clients_cli.command("list")
def clients_list() -> None:
    """Clients with their kind, scopes and redirect URIs."""
    for c in list_clients():
        kind = "public" if c.is_public else "confidential"
        consent = "skip-consent" if c.skip_consent else "consent"
        click.echo(f"{c.client_id}\t{kind}\t{consent}\t{' '.join(c.scopes)}\t{' '.join(c.redirect_uris)}\t{c.name}")


@clients_cli.command("rotate-secret")
@click.argument("client_id")
def clients_rotate_secret(client_id: str) -> None:
    """Print a new secret for CLIENT_ID; the old one stops working at once."""
    try:
        client = find_client(client_id)
        secret = rotate_secret(client)
    except ApiError as exc:
        _fail(exc.description or exc.error)
    audit("oidc_secret_rotated", actor="cli", client_id=client.client_id)
    db.session.commit()
    click.echo(f"client_secret: {secret}")


@clients_cli.command("delete")
@click.argument("client_id")
@click.confirmation_option(prompt="Delete this client, its codes and tokens?")
def clients_delete(client_id: str) -> None:
    try:
        client = find_client(client_id)
    except ApiError as exc:
        _fail(exc.description or exc.error)
    delete_client(client)
    audit("oidc_client_deleted", actor="cli", client_id=client_id)
    db.session.commit()
    click.echo(f"deleted {client_id}")


@oidc_cli.command("rotate-key")
def oidc_rotate_key() -> None:
    """Start signing with a new key; the previous one stays in the JWKS until the ID tokens it
    signed have expired (OIDC_ID_TOKEN_SECONDS)."""
    cfg = settings().oidc
    ring = keys.rotate(key_path(current_app), cfg.signing_alg, utcnow(), cfg.id_token_seconds)
    audit("oidc_key_rotated", actor="cli", kid=ring.current.kid, published=[k.kid for k in ring.keys])
    db.session.commit()
    click.echo(f"signing with {ring.current.kid} ({ring.current.alg}); published: {', '.join(k.kid for k in ring.keys)}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(clients_cli)
    app.cli.add_command(oidc_cli)

"""Command line: ``flask --app webapp admin ...``, ``... users ...`` and ``... attempts sweep``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from webapp.accounts.enrollment import enroll_images
from webapp.accounts.security import hash_password, issue_api_token
from webapp.accounts.users import create_user, delete_user, find_user, users_with_counts
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import ROLE_ADMIN, User
from webapp.errors import ApiError

admin_cli = AppGroup("admin", help="Administrator accounts and API tokens.")
users_cli = AppGroup("users", help="End-user accounts and face enrollment.")
attempts_cli = AppGroup("attempts", help="Login attempts: maintenance.")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@admin_cli.command("create")
@click.argument("name")
@click.option("--display-name", default=None, help="Shown in the admin pages (default: NAME).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
def admin_create(name: str, display_name: str | None, password_stdin: bool) -> None:
    """Create an administrator (or give an existing user the admin role and a new password)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        _fail("the password must have at least 12 characters")
    try:
        existing = find_user(name)
    except ApiError:
        existing = None
    try:
        if existing is None:
            user = create_user(name, display_name or name, role=ROLE_ADMIN, password=password)
        else:
            existing.role = ROLE_ADMIN
            existing.password_hash = hash_password(password)
            user = existing
        audit("admin_created", subject=user.username, actor="cli")
        db.session.commit()
    except ApiError as exc:
        _fail(exc.description or exc.error)
    click.echo(f"admin {user.username} ready")


@admin_cli.command("token")
@click.argument("name")
@click.option("--label", default="cli", help="A note to tell tokens apart.")
def admin_token(name: str, label: str) -> None:
    """Print a new API token for admin NAME (shown once; only its hash is stored)."""
    try:
        user = find_user(name)
    except ApiError:
        _fail(f"no admin named {name}")
    if not user.is_admin:
        _fail(f"{user.username} is not an admin")
    token = issue_api_token(user, label)
    audit("token_created", subject=user.username, actor="cli", label=label)
    db.session.commit()
    click.echo(token)


@users_cli.command("add")
@click.argument("username")
@click.option("--display-name", required=True)
@click.option(
    "--face", "faces", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A photo to enroll (repeatable)."
)
def users_add(username: str, display_name: str, faces: tuple[Path, ...]) -> None:
    """Create USERNAME and enroll the given face photos, in one transaction: when photos are
    given and every one of them is rejected, no user is created (exit status 1)."""
    try:
        user = create_user(username, display_name)
    except ApiError as exc:
        _fail(exc.description or exc.error)
    audit("user_created", subject=user.username, actor="cli")
    enrolled = _enroll(user, faces) if faces else 0
    if faces and enrolled == 0:
        db.session.rollback()
        _fail(f"no photo was usable: {user.username} was not created")
    db.session.commit()
    click.echo(f"created {user.username}")
    if faces:
        click.echo(f"enrolled {enrolled} of {len(faces)} photos for {user.username}")


@users_cli.command("enroll")
@click.argument("username")
@click.option("--face", "faces", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def users_enroll(username: str, faces: tuple[Path, ...]) -> None:
    """Enroll more face photos for an existing user (exit status 1 when none was usable)."""
    try:
        user = find_user(username)
    except ApiError:
        _fail(f"no user named {username}")
    enrolled = _enroll(user, faces)
    db.session.commit()  # the audit of a fully rejected enrollment is kept too
    click.echo(f"enrolled {enrolled} of {len(faces)} photos for {user.username}")
    if enrolled == 0:
        sys.exit(1)


def _enroll(user: User, faces: tuple[Path, ...]) -> int:
    """Analyse and add the photos, audit the result, report rejections; the caller commits."""
    result = enroll_images(user, [p.read_bytes() for p in faces], "cli")
    audit("faces_enrolled", subject=user.username, actor="cli", enrolled=result.enrolled, rejected=len(result.rejected))
    for r in result.rejected:
        name = faces[r["index"]].name if r["index"] is not None else "-"
        click.echo(f"  rejected {name}: {r['reason']} ({r.get('detail', '')})")
    return result.enrolled


@users_cli.command("list")
def users_list() -> None:
    """Users with their role and number of enrolled faces."""
    for user, faces in users_with_counts():
        click.echo(f"{user.username}\t{user.role}\t{faces} faces\t{user.display_name}")


@users_cli.command("delete")
@click.argument("username")
@click.confirmation_option(prompt="Delete this user and all their faces?")
def users_delete(username: str) -> None:
    try:
        user = find_user(username)
    except ApiError:
        _fail(f"no user named {username}")
    delete_user(user)
    audit("user_deleted", subject=username, actor="cli")
    db.session.commit()
    click.echo(f"deleted {username}")


@attempts_cli.command("sweep")
def attempts_sweep() -> None:
    """Close every expired attempt still marked collecting (denied, timeout); for cron."""
    from webapp.db.models import utcnow
    from webapp.login.sweeper import sweep
    from webapp.settings import settings

    # The policy's knobs only (what out_of_budget reads): no model needs to load for this.
    closed = sweep(utcnow(), settings().policy_knobs)
    click.echo(f"closed {closed} expired attempts")


def register_cli(app: Flask) -> None:
    app.cli.add_command(admin_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(attempts_cli)

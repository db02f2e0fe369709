"""Command line: ``flask --app webapp admin ...``, ``... users ...`` and ``... attempts sweep``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from webapp.accounts.enrollment import EnrollResult, enroll_images
from webapp.accounts.privacy import checkpoint, erase_person, export_person, prune, pseudonym, record_consent
from webapp.accounts.sealing import EXTENSION_KEY as SEALING_KEY
from webapp.accounts.sealing import add_current_key, drop_old_keys, keyring
from webapp.accounts.security import hash_password, issue_api_token
from webapp.accounts.templates import reseal_all
from webapp.accounts.users import check_email, create_user, delete_user, find_user, users_with_counts
from webapp.db.audit import audit
from webapp.db.extensions import db
from webapp.db.models import ROLE_ADMIN, User, utcnow
from webapp.errors import ApiError
from webapp.login.throttle import active_locks, clear_locks
from webapp.settings import settings

admin_cli = AppGroup("admin", help="Administrator accounts and API tokens.")
users_cli = AppGroup("users", help="End-user accounts and face enrollment.")
locks_cli = AppGroup("locks", help="Sign-in locks and slowdowns (webapp/login/throttle.py).")
keys_cli = AppGroup("keys", help="The keys that seal face templates at rest (webapp/accounts/sealing.py).")
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
@click.option("--email", default=None, help="Given to OpenID Connect clients granted the email scope.")
@click.option(
    "--face",
    "faces",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A photo to enroll (repeatable; at least ENROLL_MIN_FRAMES good ones, default 3).",
)
@click.option("--no-face", is_flag=True, help="Create the account without a face, to enroll later (admin user page or `users enroll`).")
def users_add(username: str, display_name: str, email: str | None, faces: tuple[Path, ...], no_face: bool) -> None:
    """Create USERNAME and enroll the given face photos, in one transaction: when fewer than
    ENROLL_MIN_FRAMES of them are usable, no user is created (exit status 1). Without --face
    it refuses, unless --no-face says that an account nobody can sign in to yet is meant."""
    need = settings().enroll.min_faces
    if faces and no_face:
        _fail("give either --face photos or --no-face, not both")
    if not faces and not no_face:
        _fail(
            f"no --face given: enroll at least {need} photos (--face PHOTO, repeatable), "
            "or pass --no-face to create an account that cannot sign in until its faces are enrolled"
        )
    try:
        user = create_user(username, display_name)
        if email is not None:
            user.email = check_email(email)
    except ApiError as exc:
        _fail(exc.description or exc.error)
    audit("user_created", subject=user.username, actor="cli")
    if faces:
        result = _enroll(user, faces)
        if not result.enrolled:
            db.session.rollback()
            _fail(f"{_why_nothing(result)}: {user.username} was not created")
    db.session.commit()
    if not faces:
        click.echo(f"created {user.username} with no face enrolled: they cannot sign in yet (the admin pages flag the account).")
        click.echo(f"  next: flask users enroll {user.username} --face PHOTO (at least {need} photos), or the admin user page's webcam")
        return
    click.echo(f"created {user.username}")
    click.echo(f"enrolled {result.enrolled} of {len(faces)} photos for {user.username}")


@users_cli.command("enroll")
@click.argument("username")
@click.option("--face", "faces", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def users_enroll(username: str, faces: tuple[Path, ...]) -> None:
    """Add face photos to an existing user (exit status 1 when none was stored). Incremental:
    an account holding ENROLL_MIN_FRAMES faces takes any number more; one holding fewer
    needs enough good photos in this one call to reach that minimum."""
    try:
        user = find_user(username)
    except ApiError:
        _fail(f"no user named {username}")
    result = _enroll(user, faces)
    db.session.commit()  # the audit of a fully rejected enrollment is kept too
    if not result.enrolled:
        _fail(_why_nothing(result))
    total = result.held + result.enrolled
    click.echo(f"enrolled {result.enrolled} of {len(faces)} photos for {user.username} (now {total} face{'s' if total != 1 else ''})")


def _enroll(user: User, faces: tuple[Path, ...]) -> EnrollResult:
    """Analyse and add the photos, audit the result, report rejections; the caller commits.
    The minimum is the web's (enrollment.good_needed): below it nothing is stored."""
    result = enroll_images(user, [p.read_bytes() for p in faces], "cli")
    audit("faces_enrolled", subject=user.username, actor="cli", enrolled=result.enrolled, rejected=len(result.rejected))
    if result.enrolled:
        record_consent(user, settings().consent_text, recorded_by="cli")
    for r in result.rejected:
        name = faces[r["index"]].name if r["index"] is not None else "-"
        click.echo(f"  rejected {name}: {r['reason']} ({r.get('detail', '')})")
    return result


def _why_nothing(result: EnrollResult) -> str:
    """Why an enrollment stored nothing, with the minimum it had to meet."""
    if result.needed == 1:
        return "no photo was usable"
    held = f"the account holds {result.held}, " if result.held else ""
    return (
        f"nothing stored: {held}an account needs {settings().enroll.min_faces} faces (ENROLL_MIN_FRAMES), "
        f"so this enrollment needs {result.needed} good photos"
    )


@users_cli.command("email")
@click.argument("username")
@click.argument("email")
def users_email(username: str, email: str) -> None:
    """Set USERNAME's email address ("" removes it), as OpenID Connect clients will see it."""
    try:
        user = find_user(username)
        user.email = check_email(email) if email else None
    except ApiError as exc:
        _fail(exc.description or exc.error)
    audit("user_email_set", subject=user.username, actor="cli")
    db.session.commit()
    click.echo(f"{user.username}: {user.email or 'no email'}")


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


@users_cli.command("export")
@click.argument("username")
@click.option("--with-vectors", is_flag=True, help="Include the opened template vectors (biometric data: handle with care).")
def users_export(username: str, with_vectors: bool) -> None:
    """Print everything held about USERNAME as JSON (GDPR art. 15 access request)."""
    try:
        user = find_user(username)
    except ApiError:
        _fail(f"no user named {username}")
    data = export_person(user, with_vectors=with_vectors)
    audit("user_exported", subject=user.username, actor="cli", with_vectors=with_vectors)
    db.session.commit()
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@users_cli.command("erase")
@click.argument("username")
@click.confirmation_option(prompt="Erase this person: templates, consents, attempts, frames, sessions, tokens?")
def users_erase(username: str) -> None:
    """Erase USERNAME and everything held about them (GDPR art. 17); the audit trail keeps a
    pseudonymous record that an erasure happened."""
    try:
        user = find_user(username)
    except ApiError:
        _fail(f"no user named {username}")
    alias = pseudonym(user.username)
    counts = erase_person(user)
    audit("user_erased", subject=alias, actor="cli", counts=counts)
    db.session.commit()
    checkpoint()
    db.session.commit()
    click.echo(f"erased {username} (now {alias} in the audit trail): " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@click.command("prune")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Count what would go, change nothing.")
def prune_command(dry_run: bool) -> None:
    """Apply the retention policy (RETAIN_*_DAYS): strip landmarks, signals and hashes of
    attempts past review, delete old attempts, audit events and ended sessions."""
    counts = prune(utcnow(), settings().retention)
    if dry_run:
        db.session.rollback()
    else:
        audit("pruned", actor="cli", counts=counts)
        db.session.commit()
    click.echo(("would change: " if dry_run else "pruned: ") + ", ".join(f"{v} {k}" for k, v in counts.items()))


@locks_cli.command("list")
def locks_list() -> None:
    """Locks in force now: one line per locked client of an account, or slowed account."""
    locks = active_locks(utcnow(), settings().throttle)
    for lock in locks:
        who = f"{lock.client_addr} device {lock.device or '-'}" if lock.scope == "client" else "all new devices"
        click.echo(f"{lock.username}\t{lock.method}\t{lock.scope}\t{who}\t{lock.failures} failures\tuntil {lock.until.isoformat()}Z")
    if not locks:
        click.echo("no locks")


@locks_cli.command("clear")
@click.argument("username")
def locks_clear(username: str) -> None:
    """Lift every lock and slowdown on USERNAME (face and password sign-in)."""
    name = username.strip().lower()[:64]
    clear_locks(name, actor="cli")
    db.session.commit()
    click.echo(f"cleared locks on {name}")


@keys_cli.command("seal")
def keys_seal() -> None:
    """Seal every template not yet sealed under the current key (run after upgrading: rows
    written before sealing existed hold plain floats). Idempotent."""
    counts = reseal_all(keyring())
    db.session.commit()
    click.echo(f"sealed {counts['resealed']} of {counts['templates']} templates with key {keyring().current_id.hex()}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """A new current key, every template re-sealed under it, then the old keys dropped.

    With the key file (the default) all three steps happen here, in an order that survives a
    crash at any point (the old keys stay until every row is re-sealed and committed). With
    TEMPLATE_KEYS set, put the new key first in it and keep the old after it, then run this:
    it re-seals under the first key and you remove the old ones afterwards."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ring = keyring()
    if ring.source is not None:
        ring = add_current_key(ring)
        app.extensions[SEALING_KEY] = ring
    counts = reseal_all(ring)
    audit("keys_rotated", actor="cli", key=ring.current_id.hex(), resealed=counts["resealed"])
    db.session.commit()
    if ring.source is not None:
        app.extensions[SEALING_KEY] = drop_old_keys(ring)
    click.echo(f"re-sealed {counts['resealed']} of {counts['templates']} templates with key {ring.current_id.hex()}")


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
    app.cli.add_command(locks_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(prune_command)
    app.cli.add_command(attempts_cli)

"""Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import AppFactory
from webapp.db.extensions import db


def test_upgrade_on_an_empty_instance_matches_the_models(app_factory: AppFactory) -> None:
    app = app_factory()  # runs `flask db upgrade` on a new database (SQLite, or PostgreSQL in CI)
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"users", "face_templates", "login_attempts", "attempt_frames", "user_sessions", "api_tokens", "audit_events"} <= tables
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == []
        if db.engine.dialect.name == "sqlite":  # PostgreSQL always enforces foreign keys
            assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_cli_db_upgrade(app_factory: AppFactory) -> None:
    app = app_factory()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output

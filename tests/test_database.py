"""Which database the app uses (DATABASE_URL), and what each backend is set up to guarantee."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import AppFactory
from webapp.db.engine import database_uri, engine_options
from webapp.db.extensions import db


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [
        (None, {}, "sqlite:////srv/instance/livegate.sqlite"),
        (None, {"DATABASE_URL": "postgresql://u:p@db/livegate"}, "postgresql+psycopg://u:p@db/livegate"),
        (None, {"DATABASE_URL": "postgres://u:p@db:5432/x"}, "postgresql+psycopg://u:p@db:5432/x"),
        (None, {"DATABASE_URL": "postgresql+psycopg2://u@db/x"}, "postgresql+psycopg://u@db/x"),
        ("sqlite:////tmp/a.sqlite", {"DATABASE_URL": "postgresql://u@db/x"}, "sqlite:////tmp/a.sqlite"),  # config wins
        (None, {"DATABASE_URL": ""}, "sqlite:////srv/instance/livegate.sqlite"),
    ],
)
def test_database_url_selects_the_database(configured: str | None, environ: dict[str, str], expected: str) -> None:
    assert database_uri(configured, environ, Path("/srv/instance")) == expected


def test_postgresql_connections_are_checked_before_use() -> None:
    assert engine_options("postgresql+psycopg://u@db/x")["pool_pre_ping"] is True
    assert engine_options("sqlite:///x") == {}


def test_create_app_reads_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp import create_app

    target = tmp_path / "from-env.sqlite"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{target}")
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": None})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{target}"


def test_the_sqlite_file_runs_in_wal_mode_with_a_busy_timeout(app_factory: AppFactory) -> None:
    """Two gunicorn workers writing at once wait for each other instead of failing with
    "database is locked"; readers do not block the writer (WAL)."""
    app = app_factory(sqlite=True)
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 10000
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


_INSERT = "INSERT INTO audit_events (at, kind, subject, client_addr, detail) VALUES (CURRENT_TIMESTAMP, '{kind}', 's', '', '{{}}')"


def test_a_writer_waits_for_another_instead_of_failing(app_factory: AppFactory) -> None:
    """One connection holds the write lock for 0.3 s; a second one's write waits it out."""
    import threading
    import time

    app = app_factory(sqlite=True)
    with app.app_context():
        engine = db.engine
        held = threading.Event()

        def hold() -> None:
            with engine.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                conn.exec_driver_sql(
                    "INSERT INTO audit_events (at, kind, subject, client_addr, detail) VALUES (CURRENT_TIMESTAMP, 'a', 's', '', '{}')"
                )
                held.set()
                time.sleep(0.3)
                conn.exec_driver_sql("COMMIT")

        t = threading.Thread(target=hold)
        t.start()
        held.wait(5)
        with engine.begin() as conn:  # would raise "database is locked" without the busy timeout
            conn.exec_driver_sql(
                "INSERT INTO audit_events (at, kind, subject, client_addr, detail) VALUES (CURRENT_TIMESTAMP, 'b', 's', '', '{}')"
            )
        t.join()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar() == 2

"""Test databases on a PostgreSQL server, when ``LIVEGATE_TEST_DATABASE_URL`` names one.

Unset (the default), every test app gets its own SQLite file. Set to a PostgreSQL URL whose
role may create databases (``.ci/run`` creates one), every test app gets a new database on
that server, dropped when the app is torn down, so the same tests run against PostgreSQL:
``LIVEGATE_TEST_DATABASE_URL=postgresql://livegate:livegate@127.0.0.1/livegate pytest ...``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import sqlalchemy as sa

ENV = "LIVEGATE_TEST_DATABASE_URL"
_names = itertools.count()


def server_url() -> str | None:
    return os.environ.get(ENV) or None


def _psycopg(url: str) -> str:
    from webapp.db.engine import database_uri

    return database_uri(url, {}, Path("."))  # the app's own driver rewrite


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(_psycopg(url), isolation_level="AUTOCOMMIT")


def create_database(base_url: str) -> str:
    """A new, empty database on the server of ``base_url``; its URL."""
    name = f"livegate_test_{os.getpid()}_{next(_names)}"
    engine = _admin_engine(base_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return sa.make_url(_psycopg(base_url)).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = sa.make_url(url)
    engine = _admin_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        engine.dispose()

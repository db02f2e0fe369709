"""Shared fixtures: apps on fresh migrated SQLite files (always torn down), clients, test photos,
an enrolled alice, and the `slow` marker (with a guard that keeps it honest).

Every app a test uses comes from the ``app_factory`` fixture (or ``session_app_factory`` for
session-scoped data), which disposes of each app's database session and engine afterwards.

``pytest -m "not slow"`` runs every test that needs no dlib model, no shipped ONNX liveness
model and no training: tests are marked slow by folder (attacks, integration, browser), by
the fixtures they use (``alice``: a dlib enrollment), by the ``realmodels`` marker, or by hand
(``pytestmark``). A test left unmarked that reaches the dlib models or the shipped liveness
models fails, naming the marker it needs.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from tests.support import models as test_models
from tests.support.api import ALICE_PHOTOS, ClosingClient, enroll
from tests.support.faces import PEOPLE, face_photo

TESTS = Path(__file__).resolve().parent
TEST_TEMPLATE_KEY = "dGVzdC10ZW1wbGF0ZS1rZXktMzItYnl0ZXMtbG9uZyE="  # 32 bytes, base64; tests only
REPO_ROOT = TESTS.parent
# The liveness models the service ships (webapp/config.py DEFAULTS["LIVENESS_MODEL_DIR"]).
SHIPPED_MODEL_DIR = REPO_ROOT / "webapp" / "assets" / "models"
# The shipped identity encoder (FACE_ENCODER=onnx) is guarded with them: it is dlib's ResNet.
_SHIPPED_LIVENESS_DIRS = (SHIPPED_MODEL_DIR, REPO_ROOT / "webapp" / "assets" / "minifasnet", REPO_ROOT / "webapp" / "assets" / "encoder")


# --- markers ---------------------------------------------------------------------------

# Whole folders whose every test drives the dlib models (and, for some, the shipped models).
SLOW_FOLDERS = ("attacks", "integration", "browser")
# Fixtures that run dlib (enrollment) for the test that uses them.
SLOW_FIXTURES = frozenset({"alice", "enrolled_db"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        uses_slow_fixture = bool(SLOW_FIXTURES & set(getattr(item, "fixturenames", ())))
        if parts[0] in SLOW_FOLDERS or uses_slow_fixture or item.get_closest_marker("realmodels"):
            item.add_marker(pytest.mark.slow)


class _Forbidden:
    """What the guard saw an unmarked test try to use."""

    def __init__(self) -> None:
        self.uses: list[str] = []

    def refuse(self, what: str) -> RuntimeError:
        self.uses.append(what)
        return RuntimeError(f"{what} in a test not marked slow")


@pytest.fixture(autouse=True)
def _slow_marker_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that is not marked slow but loads the dlib models, a shipped liveness model
    or TensorFlow.

    The dlib models are process-wide (webapp.face.engine._load_models and _load_dlib_encoder,
    cached), so the guard replaces those loaders for the test; ONNX models are guarded where onnxruntime opens
    them (any shipped liveness model file; the test-double and blink models are fine), and
    TensorFlow by its appearance in sys.modules during the test.
    """
    if request.node.get_closest_marker("slow"):
        yield
        return
    forbidden = _Forbidden()
    with pytest.MonkeyPatch.context() as mp:
        import webapp.face.engine as engine

        def no_dlib(*args: Any, **kwargs: Any) -> Any:
            raise forbidden.refuse("the dlib face models (webapp.face.engine._load_models)")

        mp.setattr(engine, "_load_models", no_dlib)  # raises if the loader was renamed: update the guard
        mp.setattr(engine, "_load_dlib_encoder", no_dlib)
        ort = _onnxruntime_if_imported()
        if ort is not None:
            real_session = ort.InferenceSession

            def guarded_session(path_or_bytes: Any, *args: Any, **kwargs: Any) -> Any:
                if isinstance(path_or_bytes, str | os.PathLike) and _is_shipped_liveness_model(Path(path_or_bytes)):
                    raise forbidden.refuse(f"the shipped liveness model {path_or_bytes}")
                return real_session(path_or_bytes, *args, **kwargs)

            mp.setattr(ort, "InferenceSession", guarded_session)
        tensorflow_was_loaded = "tensorflow" in sys.modules
        yield
    if not tensorflow_was_loaded and "tensorflow" in sys.modules:  # complete in a `-m "not slow"` run
        forbidden.uses.append("TensorFlow (training)")
    if forbidden.uses:
        pytest.fail(
            f"{request.node.nodeid} uses {forbidden.uses[0]} but is not marked slow: mark it "
            '@pytest.mark.slow (and realmodels for the shipped models) so `pytest -m "not slow"` stays fast',
            pytrace=False,
        )


def _onnxruntime_if_imported() -> Any:
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - onnxruntime is a service dependency
        return None
    return onnxruntime


def _is_shipped_liveness_model(path: Path) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(d.resolve()) for d in _SHIPPED_LIVENESS_DIRS)


# --- apps ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redblue_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The transparent test-double liveness model (tests/support/models.py)."""
    return test_models.build_model_dir(tmp_path_factory.mktemp("models"))


def make_app(tmp_path: Path, model_dir: Path | str, *, sqlite: bool = False, **overrides: Any) -> Flask:
    """An app on a new migrated database: a SQLite file in ``tmp_path``, or a new database on
    the PostgreSQL server of LIVEGATE_TEST_DATABASE_URL when set (tests/support/databases.py)
    and ``sqlite`` is False. Tests get apps from the ``app_factory`` fixture, which also tears
    them down; this is for scripts (benchmarks/)."""
    from flask_migrate import upgrade

    from tests.support import databases
    from webapp import create_app

    server = None if sqlite else databases.server_url()
    uri = databases.create_database(server) if server else f"sqlite:///{tmp_path / 'test.sqlite'}"
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "LIVENESS_MODEL_DIR": str(model_dir),
        "PRELOAD_MODELS": False,
        # The OpenID Connect signing keys of this app, never the repository's instance folder.
        "OIDC_KEY_FILE": str(tmp_path / "oidc_keys.json"),
        # One fixed template key for every test app (databases are copied between them); tests
        # of the key file set TEMPLATE_KEYS None and a TEMPLATE_KEY_FILE of their own.
        "TEMPLATE_KEYS": [TEST_TEMPLATE_KEY],
        # Tests start many attempts they never finish; admission control has its own tests
        # (tests/api/test_admission.py), which turn it on.
        "ADMISSION_MAX_ATTEMPTS": 0,
    }
    if os.environ.get("LIVEGATE_TEST_REDIS_URL"):  # .ci/run's second pass: limits shared in Redis
        config["REDIS_URL"] = os.environ["LIVEGATE_TEST_REDIS_URL"]
        # Each test app counts alone, as with memory storage (one Redis serves the whole run);
        # tests of the sharing give two apps the same prefix.
        config["RATELIMIT_KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = ClosingClient
    with app.app_context():
        upgrade()
    return app


def dispose_app(app: Flask) -> None:
    from webapp.db.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    if uri.startswith("postgresql"):
        from tests.support import databases

        databases.drop_database(uri)


class AppFactory:
    """``factory(model_dir=None, **config)``: a new app on its own migrated SQLite file
    (the red/blue test model unless ``model_dir`` is given); every app built is torn down
    when the fixture that owns the factory ends."""

    def __init__(self, new_dir: Callable[[], Path], default_model_dir: Path) -> None:
        self._new_dir = new_dir
        self._default_model_dir = default_model_dir
        self._apps: list[Flask] = []

    def __call__(self, model_dir: Path | str | None = None, *, sqlite: bool = False, **overrides: Any) -> Flask:
        app = make_app(self._new_dir(), model_dir if model_dir is not None else self._default_model_dir, sqlite=sqlite, **overrides)
        self._apps.append(app)
        return app

    def close(self) -> None:
        while self._apps:
            dispose_app(self._apps.pop())


@pytest.fixture
def app_factory(tmp_path: Path, redblue_model_dir: Path) -> Iterator[AppFactory]:
    """Apps for one test (each on a new folder under the test's tmp_path), torn down after it."""
    counter = iter(range(1_000_000))

    def new_dir() -> Path:
        path = tmp_path / f"app-{next(counter)}"
        path.mkdir()
        return path

    factory = AppFactory(new_dir, redblue_model_dir)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def session_app_factory(tmp_path_factory: pytest.TempPathFactory, redblue_model_dir: Path) -> Iterator[AppFactory]:
    """Apps that live for the whole session (data built once), torn down at its end."""
    factory = AppFactory(lambda: tmp_path_factory.mktemp("app"), redblue_model_dir)
    yield factory
    factory.close()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test config overrides; tests override this fixture or parametrize it."""
    return {}


@pytest.fixture
def app(app_factory: AppFactory, app_config: dict[str, Any]) -> Flask:
    return app_factory(**app_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


# --- enrolled users --------------------------------------------------------------------


def _database_file(app: Flask) -> Path:
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    assert uri.startswith("sqlite:///"), uri
    return Path(uri.removeprefix("sqlite:///"))


# What enrollment depends on besides the images: the liveness models (their reference
# embeddings are stored with each template) and the detection, quality and identity settings.
_ENROLLMENT_KEYS = ("LIVENESS_MODEL_DIR", "FACE_", "ENROLL_", "IDENTITY_")


def _enrollment_key(app: Flask) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in app.config.items() if k.startswith(_ENROLLMENT_KEYS)))


class EnrolledDatabases:
    """Databases with alice enrolled through the domain functions (two dlib enrollments),
    built once per session for each distinct enrollment config, then copied row for row
    into each test's own fresh database: every test still has its own app, database,
    attempts and throttling state, without paying for the enrollment again."""

    def __init__(self, factory: AppFactory, photos: list[bytes]) -> None:
        self._factory = factory
        self._photos = photos
        self._built: dict[tuple[tuple[str, str], ...], Path] = {}

    def _template(self, app: Flask) -> Path:
        key = _enrollment_key(app)
        if key not in self._built:
            overrides = {k: app.config[k] for k, _ in key if k != "LIVENESS_MODEL_DIR"}
            # Always a SQLite file: copied into each test's database, SQLite or PostgreSQL.
            source = self._factory(app.config["LIVENESS_MODEL_DIR"], sqlite=True, **overrides)
            assert enroll(source, "alice", "Alice Example", self._photos) == 2
            dispose_app(source)
            self._built[key] = _database_file(source)
        return self._built[key]

    def copy_into(self, app: Flask) -> None:
        template = self._template(app)
        if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
            _copy_rows(template, app)
            return
        target = sqlite3.connect(_database_file(app), isolation_level=None)
        try:
            target.execute("ATTACH DATABASE ? AS template", (str(template),))
            tables = [
                name
                for (name,) in target.execute("SELECT name FROM template.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                if name != "alembic_version"
            ]
            target.execute("PRAGMA foreign_keys = ON")
            target.execute("BEGIN")
            target.execute("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT, whatever the table order
            for table in tables:
                columns = ", ".join(f'"{row[1]}"' for row in target.execute(f'PRAGMA template.table_info("{table}")'))
                target.execute(f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM template."{table}"')
            target.execute("COMMIT")
            target.execute("DETACH DATABASE template")
        finally:
            target.close()


def _copy_rows(template: Path, app: Flask) -> None:
    """Every row of the SQLite ``template`` into the app's (PostgreSQL) database, parents
    first, then each id sequence moved past the copied ids."""
    import sqlalchemy as sa

    from webapp.db.extensions import db

    source = sa.create_engine(f"sqlite:///{template}")
    try:
        with app.app_context(), source.connect() as src, db.engine.begin() as dst:
            for table in db.metadata.sorted_tables:
                rows = [dict(r) for r in src.execute(table.select()).mappings()]
                if not rows:
                    continue
                dst.execute(table.insert(), rows)
                if "id" in table.c:
                    dst.execute(
                        sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT MAX(id) FROM \"{table.name}\"))")
                    )
    finally:
        source.dispose()


@pytest.fixture(scope="session")
def enrolled_db(session_app_factory: AppFactory, photo_bytes: dict[str, bytes]) -> EnrolledDatabases:
    return EnrolledDatabases(session_app_factory, [photo_bytes[n] for n in ALICE_PHOTOS])


@pytest.fixture
def alice(app: Flask, enrolled_db: EnrolledDatabases) -> str:
    """alice (display name "Alice Example"), enrolled from two photos of one person
    (face_recognition's obama.jpg, obama3.jpg), in this test's own database."""
    enrolled_db.copy_into(app)
    return "alice"


@pytest.fixture(scope="session")
def photo_bytes() -> dict[str, bytes]:
    """JPEG bytes of face_recognition's test photos (obama.jpg, obama2.jpg, biden.jpg...)."""
    return {n: face_photo(n).read_bytes() for names in PEOPLE.values() for n in names}

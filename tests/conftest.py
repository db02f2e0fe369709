"""Shared fixtures: an app on a fresh migrated SQLite file per test, clients, test photos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from tests.support import models as test_models
from tests.support.api import ALICE_PHOTOS, ClosingClient, enroll
from tests.support.faces import PEOPLE, face_photo


@pytest.fixture(scope="session")
def redblue_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The transparent test-double liveness model (tests/support/models.py)."""
    return test_models.build_model_dir(tmp_path_factory.mktemp("models"))


def make_app(tmp_path: Path, model_dir: Path | str, **overrides: Any) -> Flask:
    from flask_migrate import upgrade

    from webapp import create_app

    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite'}",
        "LIVENESS_MODEL_DIR": str(model_dir),
        "PRELOAD_MODELS": False,
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = ClosingClient
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test config overrides; tests override this fixture or mutate it before ``app``."""
    return {}


@pytest.fixture
def app(tmp_path: Path, redblue_model_dir: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(tmp_path, redblue_model_dir, **app_config)
    yield app
    from webapp.db.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def alice(app: Flask, photo_bytes: dict[str, bytes]) -> str:
    """alice, enrolled from two photos of one person (face_recognition's obama.jpg, obama3.jpg)."""
    assert enroll(app, "alice", "Alice Example", [photo_bytes[n] for n in ALICE_PHOTOS]) == 2
    return "alice"


@pytest.fixture(scope="session")
def photo_bytes() -> dict[str, bytes]:
    """JPEG bytes of face_recognition's test photos (obama.jpg, obama2.jpg, biden.jpg...)."""
    return {n: face_photo(n).read_bytes() for names in PEOPLE.values() for n in names}

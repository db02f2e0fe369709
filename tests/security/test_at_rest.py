"""Biometric data at rest (issue 11, item 3): templates sealed with AES-GCM and bound to their
owner, keys outside the database and rotatable, database files 0600, erased rows zeroed."""

from __future__ import annotations

import base64
import sqlite3
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import AppFactory
from webapp.accounts.sealing import Keyring, SealError, decode_key, new_key
from webapp.accounts.templates import Owner, pack_encoding, pack_refs, unpack_encoding, user_material
from webapp.db.extensions import db
from webapp.db.models import FaceTemplate, User

VERSIONS = {"siamese": "v1"}


def _db_file(app: Flask) -> Path:
    return Path(str(app.config["SQLALCHEMY_DATABASE_URI"]).removeprefix("sqlite:///"))


def _encoding(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.09, 128)


def _ref(seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 1000).normal(0.0, 1.0, 64).astype("<f4")


def _enroll_synthetic(app: Flask, username: str, seeds: list[int]) -> None:
    """Templates written through the one packing seam (no dlib needed)."""
    from webapp.accounts.users import create_user

    with app.app_context():
        user = create_user(username, username.title())
        owner = Owner.of(user)
        for s in seeds:
            db.session.add(
                FaceTemplate(
                    user_id=user.id,
                    encoding=pack_encoding(_encoding(s), owner),
                    encoding_model="test",
                    source="cli",
                    quality=1.0,
                    quality_detail={},
                    liveness_refs=pack_refs({"siamese": _ref(s)}, VERSIONS, owner),
                )
            )
        db.session.commit()


def _float_needles(seeds: list[int]) -> list[bytes]:
    """Every float of every encoding (8 bytes) and reference vector (4 bytes), as stored plain."""
    out = []
    for s in seeds:
        out += [np.float64(v).astype("<f8").tobytes() for v in _encoding(s)]
        out += [np.float32(v).astype("<f4").tobytes() for v in _ref(s)]
    return out


@pytest.fixture
def app(app_factory: AppFactory, app_config: dict[str, Any]) -> Flask:
    """These tests read the SQLite file itself: SQLite even on CI's PostgreSQL pass."""
    return app_factory(sqlite=True, **app_config)


def test_seal_binds_the_owner_and_the_key() -> None:
    ring = Keyring((decode_key(new_key()),))
    alice, bob = Owner(1, "alice"), Owner(2, "bob")
    blob = pack_encoding(_encoding(1), alice, ring)
    assert np.array_equal(unpack_encoding(blob, alice, ring), _encoding(1))
    with pytest.raises(SealError):
        unpack_encoding(blob, bob, ring)  # a row copied onto another user does not open
    with pytest.raises(SealError):
        unpack_encoding(blob[:-1] + bytes([blob[-1] ^ 1]), alice, ring)  # tampered
    with pytest.raises(SealError):
        unpack_encoding(blob, alice, Keyring((decode_key(new_key()),)))  # another key
    # a legacy plaintext row still reads (until `flask keys seal`)
    assert np.array_equal(unpack_encoding(_encoding(1).astype("<f8").tobytes(), alice, ring), _encoding(1))


def test_raw_rows_hold_no_float_of_any_template(app: Flask) -> None:
    seeds = [11, 12, 13]
    _enroll_synthetic(app, "alice", seeds)
    with app.app_context():
        templates, refs = user_material(db.session.scalar(sa.select(User.id)), VERSIONS)
        assert np.allclose(templates, np.stack([_encoding(s) for s in seeds]))
        assert refs["siamese"].shape == (3, 64)
        db.session.remove()
    raw = sqlite3.connect(_db_file(app))
    try:
        cells = [
            v.encode() if isinstance(v, str) else v
            for row in raw.execute("SELECT * FROM face_templates")
            for v in row
            if isinstance(v, str | bytes)
        ]
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    assert len(cells) >= 3 * 4
    needles = _float_needles(seeds)
    # base64 of the plain vectors, as the old JSON column held them
    b64 = [base64.b64encode(_ref(s).tobytes()) for s in seeds]
    found = sum(1 for cell in cells for n in needles + b64 if n in cell)
    assert found == 0
    blob = _db_file(app).read_bytes()
    assert sum(1 for n in needles if n in blob) == 0  # nor anywhere in the file


def test_database_files_are_private(app: Flask) -> None:
    _enroll_synthetic(app, "alice", [1])
    path = _db_file(app)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    with app.app_context():
        assert db.session.execute(sa.text("PRAGMA secure_delete")).scalar() == 1


def test_an_erased_user_leaves_no_bytes_in_the_file(app: Flask) -> None:
    _enroll_synthetic(app, "alice", [21, 22])
    _enroll_synthetic(app, "bob", [23])
    with app.app_context():
        stored = db.session.scalars(sa.select(FaceTemplate.encoding).join(User).where(User.username == "alice")).all()
        refs = db.session.scalars(sa.select(FaceTemplate.liveness_refs).join(User).where(User.username == "alice")).all()
        needles = [bytes(b) for b in stored] + [r["siamese"]["sealed"].encode() for r in refs]
        from webapp.accounts.users import delete_user, find_user

        delete_user(find_user("alice"))
        db.session.commit()
        db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    data = b"".join(p.read_bytes() for p in _db_file(app).parent.glob(_db_file(app).name + "*"))
    assert len(needles) == 4
    assert [n in data for n in needles] == [False] * 4
    assert b"alice" not in data.replace(b"alice@", b"")  # the username is gone from the users table too


def test_rotation_reseals_every_row_and_drops_the_old_key(app_factory: AppFactory, tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "template_keys"
    app = app_factory(sqlite=True, TEMPLATE_KEYS=None, TEMPLATE_KEY_FILE=str(key_file))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    old = key_file.read_text()
    _enroll_synthetic(app, "alice", [31, 32])
    with app.app_context():  # a legacy row, written before sealing existed
        user_id = db.session.scalar(sa.select(User.id))
        legacy = FaceTemplate(
            user_id=user_id,
            encoding=_encoding(33).astype("<f8").tobytes(),
            encoding_model="test",
            source="cli",
            quality=1.0,
            quality_detail={},
            liveness_refs={"siamese": {"version": "v1", "vector": base64.b64encode(_ref(33).tobytes()).decode()}},
        )
        db.session.add(legacy)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-sealed 3 of 3 templates" in result.output
    new = key_file.read_text()
    assert new != old and len(new.split()) == 1 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with app.app_context():
        templates, refs = user_material(user_id, VERSIONS)
        assert np.allclose(templates, np.stack([_encoding(s) for s in (31, 32, 33)]))
        assert np.allclose(refs["siamese"], np.stack([_ref(s) for s in (31, 32, 33)]))
        rows = db.session.scalars(sa.select(FaceTemplate)).all()
        assert all(r.encoding.startswith(b"LGS1") and "vector" not in r.liveness_refs["siamese"] for r in rows)
    # The old key is gone: a copy of the database and the old key file opens nothing.
    old_ring = Keyring((decode_key(old.split()[0]),))
    with app.app_context():
        blob = db.session.scalar(sa.select(FaceTemplate.encoding))
        with pytest.raises(SealError):
            unpack_encoding(blob, Owner(user_id, "alice"), old_ring)
    again = app.test_cli_runner().invoke(args=["keys", "seal"])
    assert again.exit_code == 0 and "sealed 0 of 3" in again.output


def test_a_bad_template_key_stops_the_app() -> None:
    from webapp import create_app
    from webapp.settings import SettingsError

    with pytest.raises(SettingsError, match=r"^TEMPLATE_KEYS:"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://", "TEMPLATE_KEYS": ["c2hvcnQ="]})


@pytest.mark.slow
def test_a_real_enrollment_leaves_no_float_in_the_file(app: Flask, alice: str) -> None:
    """alice enrolled from two photos by dlib: none of her 2 x 128 encoding floats (nor any
    reference embedding float) appears anywhere in the database file."""
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == alice))
        rows = db.session.scalars(sa.select(FaceTemplate).where(FaceTemplate.user_id == user_id)).all()
        owner = Owner(user_id, alice)
        from webapp.accounts.templates import ref_vector

        encodings = [unpack_encoding(r.encoding, owner) for r in rows]
        refs = [ref_vector(name, e, owner) for r in rows for name, e in r.liveness_refs.items()]
        db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.remove()
        db.engine.dispose()
    needles = [np.float64(v).tobytes() for enc in encodings for v in enc] + [np.float32(v).tobytes() for ref in refs for v in ref]
    assert len(encodings) == 2 and len(needles) >= 256
    data = b"".join(p.read_bytes() for p in _db_file(app).parent.glob(_db_file(app).name + "*"))
    assert [n for n in needles if n in data] == []

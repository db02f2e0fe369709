"""How biometric vectors are turned into bytes for the database and back.

Every face template passes through these functions: the single seam where templates are sealed
(AES-GCM, webapp/accounts/sealing.py) on the way in and opened on the way out, bound to their
owner (user id and username as associated data). Nothing else touches the encoding bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from webapp.accounts.sealing import Keyring, keyring
from webapp.db.extensions import db
from webapp.db.models import FaceTemplate, User

ENCODING_MODEL = "dlib_face_recognition_resnet_model_v1"
ENCODING_DIM = 128


@dataclass(frozen=True)
class Owner:
    """Whose template a value is: bound into every envelope as associated data."""

    user_id: int
    username: str

    @classmethod
    def of(cls, user: User) -> Owner:
        return cls(int(user.id), str(user.username))

    def aad(self, field: str) -> bytes:
        return f"livegate-template:{self.user_id}:{self.username}:{field}".encode()


def pack_encoding(encoding: np.ndarray, owner: Owner, ring: Keyring | None = None) -> bytes:
    vec = np.asarray(encoding, dtype="<f8").reshape(-1)
    if vec.shape[0] != ENCODING_DIM:
        raise ValueError(f"a face encoding has {ENCODING_DIM} values, got {vec.shape[0]}")
    return (ring or keyring()).seal(vec.tobytes(), owner.aad("encoding"))


def unpack_encoding(data: bytes, owner: Owner, ring: Keyring | None = None) -> np.ndarray:
    return np.frombuffer((ring or keyring()).open(data, owner.aad("encoding")), dtype="<f8").astype(np.float64)


def stack_encodings(rows: Iterable[np.ndarray]) -> np.ndarray:
    """All templates of a user as an (n, 128) array, (0, 128) when none."""
    vecs = list(rows)
    return np.stack(vecs) if vecs else np.zeros((0, ENCODING_DIM))


def pack_refs(
    refs: Mapping[str, np.ndarray], versions: Mapping[str, str], owner: Owner, ring: Keyring | None = None
) -> dict[str, dict[str, str]]:
    """Reference embeddings of identity-aware liveness models, tagged with the model version
    that produced them (an embedding from another version is meaningless and is ignored); the
    version stays readable, the vector is sealed."""
    r = ring or keyring()
    return {
        name: {
            "version": versions[name],
            "sealed": base64.b64encode(r.seal(np.asarray(v, dtype="<f4").tobytes(), owner.aad(f"ref:{name}"))).decode(),
        }
        for name, v in refs.items()
    }


def ref_vector(name: str, entry: Mapping[str, str], owner: Owner, ring: Keyring | None = None) -> np.ndarray:
    """One stored reference vector (sealed, or a legacy plain ``vector``)."""
    if "sealed" in entry:
        raw = (ring or keyring()).open(base64.b64decode(entry["sealed"]), owner.aad(f"ref:{name}"))
    else:
        raw = base64.b64decode(entry["vector"])
    return np.frombuffer(raw, dtype="<f4")


def unpack_refs(stored: Iterable[Mapping[str, Mapping[str, str]]], versions: Mapping[str, str], owner: Owner) -> dict[str, np.ndarray]:
    """Collect, per model, the reference vectors made by the model version now loaded."""
    out: dict[str, list[np.ndarray]] = {}
    for refs in stored:
        for name, entry in (refs or {}).items():
            if versions.get(name) != entry.get("version"):
                continue
            out.setdefault(name, []).append(ref_vector(name, entry, owner))
    return {name: np.stack(vs) for name, vs in out.items()}


def _owner(user_id: int) -> Owner | None:
    username = db.session.scalar(sa.select(User.username).where(User.id == user_id))
    return Owner(user_id, username) if username is not None else None


def user_encodings(user_id: int) -> np.ndarray:
    """A user's identity templates, (n, 128)."""
    owner = _owner(user_id)
    if owner is None:
        return stack_encodings([])
    blobs = db.session.scalars(sa.select(FaceTemplate.encoding).where(FaceTemplate.user_id == user_id)).all()
    return stack_encodings(unpack_encoding(b, owner) for b in blobs)


def user_material(user_id: int | None, versions: Mapping[str, str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A user's identity templates and liveness reference embeddings of the loaded model
    ``versions`` (empty for unknown users): what every frame claiming to be them is compared with."""
    owner = _owner(user_id) if user_id is not None else None
    if owner is None:
        return stack_encodings([]), {}
    rows = db.session.execute(
        sa.select(FaceTemplate.encoding, FaceTemplate.liveness_refs).where(FaceTemplate.user_id == owner.user_id)
    ).all()
    return stack_encodings(unpack_encoding(r.encoding, owner) for r in rows), unpack_refs((r.liveness_refs for r in rows), versions, owner)


def reseal_all(ring: Keyring) -> dict[str, int]:
    """Seal every template under ``ring``'s current key: legacy plaintext rows and rows of older
    keys alike (``flask keys seal`` / ``rotate``). The caller commits."""
    counts = {"templates": 0, "resealed": 0}
    rows = db.session.execute(sa.select(FaceTemplate, User.username).join(User, User.id == FaceTemplate.user_id)).all()
    for template, username in rows:
        counts["templates"] += 1
        owner = Owner(template.user_id, username)
        refs: dict[str, Any] = dict(template.liveness_refs or {})
        stale = ring.needs_reseal(template.encoding) or any(
            "sealed" not in e or ring.needs_reseal(base64.b64decode(e["sealed"])) for e in refs.values()
        )
        if not stale:
            continue
        template.encoding = pack_encoding(unpack_encoding(template.encoding, owner, ring), owner, ring)
        template.liveness_refs = {
            name: {
                "version": e["version"],
                "sealed": base64.b64encode(ring.seal(ref_vector(name, e, owner, ring).tobytes(), owner.aad(f"ref:{name}"))).decode(),
            }
            for name, e in refs.items()
        }
        counts["resealed"] += 1
    return counts

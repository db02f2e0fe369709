"""How biometric vectors are turned into bytes for the database and back.

Every face template passes through these functions, so this is the single seam where
template encryption (on the roadmap) will wrap the bytes; nothing else touches the encoding.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping

import numpy as np
import sqlalchemy as sa

from webapp.db.extensions import db
from webapp.db.models import FaceTemplate

ENCODING_MODEL = "dlib_face_recognition_resnet_model_v1"
ENCODING_DIM = 128


def pack_encoding(encoding: np.ndarray) -> bytes:
    vec = np.asarray(encoding, dtype="<f8").reshape(-1)
    if vec.shape[0] != ENCODING_DIM:
        raise ValueError(f"a face encoding has {ENCODING_DIM} values, got {vec.shape[0]}")
    return vec.tobytes()


def unpack_encoding(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f8").astype(np.float64)


def stack_encodings(blobs: Iterable[bytes]) -> np.ndarray:
    """All templates of a user as an (n, 128) array, (0, 128) when none."""
    rows = [unpack_encoding(b) for b in blobs]
    return np.stack(rows) if rows else np.zeros((0, ENCODING_DIM))


def pack_refs(refs: Mapping[str, np.ndarray], versions: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Reference embeddings of identity-aware liveness models, tagged with the model version
    that produced them (an embedding from another version is meaningless and is ignored)."""
    return {
        name: {"version": versions[name], "vector": base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()}
        for name, v in refs.items()
    }


def unpack_refs(stored: Iterable[Mapping[str, Mapping[str, str]]], versions: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Collect, per model, the reference vectors made by the model version now loaded."""
    out: dict[str, list[np.ndarray]] = {}
    for refs in stored:
        for name, entry in (refs or {}).items():
            if versions.get(name) != entry.get("version"):
                continue
            out.setdefault(name, []).append(np.frombuffer(base64.b64decode(entry["vector"]), dtype="<f4"))
    return {name: np.stack(vs) for name, vs in out.items()}


def user_encodings(user_id: int) -> np.ndarray:
    """A user's identity templates, (n, 128)."""
    return stack_encodings(db.session.scalars(sa.select(FaceTemplate.encoding).where(FaceTemplate.user_id == user_id)).all())


def user_material(user_id: int | None, versions: Mapping[str, str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A user's identity templates and liveness reference embeddings of the loaded model
    ``versions`` (empty for unknown users): what every frame claiming to be them is compared with."""
    if user_id is None:
        return stack_encodings([]), {}
    rows = db.session.execute(sa.select(FaceTemplate.encoding, FaceTemplate.liveness_refs).where(FaceTemplate.user_id == user_id)).all()
    return stack_encodings(r.encoding for r in rows), unpack_refs((r.liveness_refs for r in rows), versions)

"""Enrolling faces: decide per image whether it becomes a template, and say why not.

One minimum for every way in (the CLI, photo uploads and the webcam page): an enrollment is
stored only when the account then holds at least ENROLL_MIN_FRAMES faces (:func:`good_needed`).
A new account needs that many good images at once; an account that holds them can be topped up
one image at a time. Only vectors are stored (the dlib encoding and the Siamese liveness
embeddings); the photo itself is discarded after analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from webapp.accounts.stills import single_face
from webapp.accounts.templates import ENCODING_MODEL, Owner, pack_encoding, pack_refs, user_encodings
from webapp.db.extensions import db
from webapp.db.models import FaceTemplate, User
from webapp.face.image import ImageError, decode_image
from webapp.face.match import best_distance
from webapp.runtime.worker import runtime
from webapp.settings import settings

SOURCES = ("upload", "webcam", "cli")


@dataclass
class EnrollResult:
    enrolled: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    template_ids: list[int] = field(default_factory=list)
    needed: int = 1  # good images this enrollment needed (good_needed)
    held: int = 0  # faces the account held before it


def good_needed(held: int, min_faces: int) -> int:
    """Good images an enrollment must bring so the account holds ``min_faces`` (at least one)."""
    return max(1, min_faces - held)


def enroll_images(user: User, images: Sequence[bytes], source: str, min_good: int | None = None) -> EnrollResult:
    """Analyse every image, then add the good ones to the session (the caller audits and commits).

    Below ``min_good`` good images nothing is stored. None (every caller in the app) is the
    account rule, :func:`good_needed` with ENROLL_MIN_FRAMES; an explicit number is for code
    that builds fixtures. Images must also show the same person as the user's existing
    templates and as each other, so one account cannot hold two people.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown enrollment source {source!r}")
    rt = runtime()
    ensemble = rt.require_ensemble()
    cfg = settings()
    mismatch = cfg.identity_mismatch_distance
    known = user_encodings(user.id)  # the user's templates, then each image accepted here
    limits, bars = cfg.enroll.limits, cfg.enroll
    held = int(known.shape[0])
    need = good_needed(held, bars.min_faces) if min_good is None else max(1, min_good)
    result = EnrollResult(needed=need, held=held)
    owner = Owner.of(user)  # sealed with the templates (webapp/accounts/sealing.py)
    accepted: list[FaceTemplate] = []
    for index, data in enumerate(images):
        try:
            rgb = decode_image(data, limits)
        except ImageError as exc:
            result.rejected.append({"index": index, "reason": "bad_image", "detail": str(exc)})
            continue
        face = single_face(rgb, rt, quality_bars=bars)
        if face.reason is not None:
            detail = (
                "; ".join(face.problems)
                if face.problems
                else {"no_face": "no face found", "multiple_faces": f"{face.faces} faces found"}.get(face.reason, "")
            )
            result.rejected.append({"index": index, "reason": face.reason, "detail": detail})
            continue
        obs = face.observation
        assert obs is not None and obs.encoding is not None
        if known.shape[0] and best_distance(obs.encoding, known) > mismatch:
            result.rejected.append({"index": index, "reason": "different_person", "detail": "does not match the other faces of this user"})
            continue
        known = np.vstack([known, obs.encoding[None]])
        refs = ensemble.embed_references(rgb, obs.box)
        accepted.append(
            FaceTemplate(
                user_id=user.id,
                encoding=pack_encoding(obs.encoding, owner),
                encoding_model=ENCODING_MODEL,
                source=source,
                quality=obs.quality.score(),
                quality_detail={"face_px": obs.quality.face_px, "sharpness": obs.quality.sharpness, "brightness": obs.quality.brightness},
                liveness_refs=pack_refs(refs, ensemble.versions(), owner),
            )
        )
    if len(accepted) < need:
        if need > 1:  # say why the good ones were not kept either
            detail = f"{len(accepted)} good, need {need}" + (f" (the account holds {held}, needs {bars.min_faces})" if held else "")
            result.rejected.append({"index": None, "reason": "not_enough_good_images", "detail": detail})
        return result
    db.session.add_all(accepted)
    db.session.flush()
    result.enrolled = len(accepted)
    result.template_ids = [t.id for t in accepted]
    return result

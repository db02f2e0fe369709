"""Find the shipped liveness models by their cards and fuse them into one score.

The model directory holds ``<name>.onnx`` + ``<name>.json`` pairs and one ``ensemble.json``
that names the members, their weights and the fused threshold. Adding a model is adding
files; the pipeline does not change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from webapp.face.crop import SILENTFACE, CropSpec, crop_face, silent_face_crop
from webapp.face.retinaface import ScoredBox
from webapp.face.types import Box
from webapp.liveness.card import (
    ENSEMBLE_CARD,
    EnsembleCard,
    ModelCard,
    parse_ensemble_card,
    parse_model_card,
)
from webapp.liveness.models import MODEL_KINDS, LivenessModel
from webapp.runtime.files import CardError, load_json


def load_cards(model_dir: Path) -> dict[str, ModelCard]:
    """Every model card in ``model_dir`` keyed by model name (the ensemble card excluded)."""
    cards: dict[str, ModelCard] = {}
    for path in sorted(model_dir.glob("*.json")):
        if path.name == ENSEMBLE_CARD:
            continue
        card = parse_model_card(load_json(path), path=model_dir)
        if card.name in cards:
            raise CardError(f"two cards name the model {card.name!r}")
        cards[card.name] = card
    return cards


@dataclass(frozen=True)
class LivenessScore:
    """The fused live probability of one face and the per-model scores behind it."""

    live_score: float | None  # None: no member could score this face (the frame is not counted)
    models: dict[str, float]


class LivenessEnsemble:
    """The models named by ``ensemble.json``, fused by a weighted mean of live probabilities.

    A model that abstains (a Siamese model for a user with no reference embeddings) drops out
    and the remaining weights are renormalised, so the fused score always stays in [0, 1].
    """

    def __init__(self, card: EnsembleCard, models: Mapping[str, LivenessModel]) -> None:
        self.card = card
        self.models = dict(models)
        self.weights = {m.model: m.weight for m in card.members}

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def versions(self) -> dict[str, str]:
        return {name: m.card.version for name, m in self.models.items()}

    def reference_models(self) -> list[LivenessModel]:
        return [m for m in self.models.values() if m.needs_references]

    def load(self) -> None:
        for model in self.models.values():
            model.load()

    @property
    def needs_context(self) -> bool:
        """Does a member frame its crop on the RetinaFace box (the caller must find it)?"""
        return any(m.crop_spec.policy == SILENTFACE for m in self.models.values())

    def score_face(
        self, rgb: np.ndarray, box: Box, references: Mapping[str, np.ndarray] | None = None, context: ScoredBox | None = None
    ) -> LivenessScore:
        """Score the face in ``box`` (dlib) with every member; ``context`` is the same face's
        RetinaFace box, without which the members framed on it abstain."""
        per_model: dict[str, float] = {}
        crops: dict[CropSpec, np.ndarray] = {}  # models sharing a crop spec share the crop
        for name, model in self.models.items():
            spec = model.crop_spec
            crop = crops.get(spec)
            if crop is None:
                if spec.policy == SILENTFACE:
                    if context is None:
                        continue
                    crop = silent_face_crop(rgb, context.xywh, spec)
                else:
                    crop = crop_face(rgb, box, spec)
                crops[spec] = crop
            refs = (references or {}).get(name)
            value = float(model.score(crop[None], refs)[0])
            if not math.isnan(value):
                per_model[name] = round(value, 6)
        return LivenessScore(live_score=self.fuse(per_model), models=per_model)

    def fuse(self, per_model: Mapping[str, float]) -> float | None:
        total = sum(self.weights[n] for n in per_model if n in self.weights)
        if total <= 0:
            return None
        return round(sum(self.weights[n] * v for n, v in per_model.items() if n in self.weights) / total, 6)

    def embed_references(self, rgb: np.ndarray, box: Box) -> dict[str, np.ndarray]:
        """Reference embeddings of an enrolled live face, one per identity-aware model."""
        out: dict[str, np.ndarray] = {}
        for model in self.reference_models():
            crop = crop_face(rgb, box, model.crop_spec)
            out[model.name] = model.embed(crop[None])[0]
        return out


def load_ensemble(model_dir: Path, threads: int = 1, verify: bool = True) -> LivenessEnsemble:
    """Build the ensemble described by ``model_dir/ensemble.json`` (sessions open lazily)."""
    cards = load_cards(model_dir)
    ens_card = parse_ensemble_card(load_json(model_dir / ENSEMBLE_CARD))
    models: dict[str, LivenessModel] = {}
    for member in ens_card.members:
        card = cards.get(member.model)
        if card is None:
            raise CardError(f"ensemble member {member.model!r} has no card in {model_dir}")
        if verify:
            card.verify_file()
        models[card.name] = MODEL_KINDS[card.kind](card, threads)
    return LivenessEnsemble(ens_card, models)

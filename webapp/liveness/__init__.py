"""Passive liveness: ONNX models described by model cards, fused into one live score."""

from webapp.liveness.card import EnsembleCard, ModelCard, parse_ensemble_card, parse_model_card
from webapp.liveness.models import LivenessModel, OnnxClassifier, OnnxSiamese, preprocess
from webapp.liveness.registry import LivenessEnsemble, LivenessScore, load_cards, load_ensemble
from webapp.runtime.files import CardError

__all__ = [
    "CardError",
    "EnsembleCard",
    "LivenessEnsemble",
    "LivenessModel",
    "LivenessScore",
    "ModelCard",
    "OnnxClassifier",
    "OnnxSiamese",
    "load_cards",
    "load_ensemble",
    "parse_ensemble_card",
    "parse_model_card",
    "preprocess",
]

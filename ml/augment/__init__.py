"""Spoof synthesis (print, screen replay, artefacts) and label-preserving nuisance augmentation."""

from ml.augment.nuisance import nuisance
from ml.augment.synth import SPOOF_KINDS, TRAINING_MIX, make_spoof

__all__ = ["SPOOF_KINDS", "TRAINING_MIX", "make_spoof", "nuisance"]

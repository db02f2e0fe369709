"""Turn a live crop into a synthetic spoof of a chosen (or random) kind."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ml.augment.artefacts import colour_distortion, facial_artefacts, gradient_noise
from ml.augment.print_attack import simulate_print
from ml.augment.screen import simulate_screen

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]

# The attack species we can synthesise. Print and screen are whole simulations; the others are
# single artefacts (the lineage's list) used mostly to stress-test a model.
SPOOF_KINDS: dict[str, Transform] = {
    "print": simulate_print,
    "screen": simulate_screen,
    "gradient_noise": gradient_noise,
    "colour": colour_distortion,
    "facial": facial_artefacts,
}
# Mix used to add synthetic spoofs to training: mostly the two physical attacks, whose
# simulations include the generic artefacts, plus a little of the face-only artefacts.
TRAINING_MIX: dict[str, float] = {"print": 0.45, "screen": 0.45, "facial": 0.1}


def make_spoof(rgb: np.ndarray, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A synthetic spoof of ``rgb``; ``kind`` is a key of :data:`SPOOF_KINDS` or None for the training mix."""
    if kind is None:
        names = list(TRAINING_MIX)
        kind = names[int(rng.choice(len(names), p=np.array(list(TRAINING_MIX.values()))))]
    out = SPOOF_KINDS[kind](rgb, rng)
    if kind in ("print", "screen") and rng.random() < 0.3:
        out = gradient_noise(out, rng, amount=0.05)
    return out

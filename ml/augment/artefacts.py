"""Generic spoof artefacts: gradient noise, colour distortion and artefacts on the face region only.

These follow the "FAS data augmentation" of the lineage (seed 004: moire, facial artefacts,
colour distortion, gradient noise). They are the ingredients of the print and screen
simulations in :mod:`ml.augment.print_attack` and :mod:`ml.augment.screen`, and usable alone
to stress-test a model.
"""

from __future__ import annotations

import cv2
import numpy as np

from ml.augment.nuisance import to_float, to_uint8


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, cells: int) -> np.ndarray:
    """Gradient (value) noise in [-1, 1]: a coarse random grid interpolated bicubically."""
    h, w = shape
    grid = rng.uniform(-1.0, 1.0, size=(cells + 1, cells + 1)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), -1.0, 1.0)


def gradient_noise(rgb: np.ndarray, rng: np.random.Generator, amount: float = 0.08) -> np.ndarray:
    """Low-frequency luminance and colour blotches (uneven print ink, screen backlight bleed)."""
    h, w = rgb.shape[:2]
    x = to_float(rgb)
    lum = smooth_noise((h, w), rng, int(rng.integers(2, 6)))[..., None]
    chroma = np.stack([smooth_noise((h, w), rng, int(rng.integers(2, 5))) for _ in range(3)], axis=-1)
    x = x + amount * lum + 0.4 * amount * chroma
    return to_uint8(x)


def colour_distortion(rgb: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
    """A reproduction's colours: saturation change, hue rotation and a channel cross-talk matrix."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + amount * rng.uniform(-8, 8)) % 180.0
    hsv[..., 1] = np.clip(hsv[..., 1] * (1.0 + amount * rng.uniform(-0.5, 0.4)), 0, 255)
    out = to_float(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB))
    mix = np.eye(3, dtype=np.float32) + amount * rng.uniform(-0.08, 0.08, size=(3, 3)).astype(np.float32)
    mix /= mix.sum(axis=1, keepdims=True)
    return to_uint8(out @ mix.T)


def face_mask(shape: tuple[int, int], rng: np.random.Generator, softness: float = 0.15) -> np.ndarray:
    """A soft ellipse over the face of a centred crop (crops are centred on the HOG box)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w * (0.5 + rng.uniform(-0.04, 0.04))
    cy = h * (0.52 + rng.uniform(-0.04, 0.04))
    rx = w * rng.uniform(0.3, 0.42)
    ry = h * rng.uniform(0.38, 0.5)
    d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return np.clip((1.0 - d) / softness, 0.0, 1.0)[..., None]


def facial_artefacts(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Artefacts confined to the face: a flattened, re-coloured or over-smoothed face on a real
    background is what a cut-out print, a face-swapped replay or a tablet held close looks like."""
    mask = face_mask(rgb.shape[:2], rng)
    kind = int(rng.integers(0, 3))
    if kind == 0:  # flattened shading: local contrast removed
        altered = cv2.bilateralFilter(rgb, 7, 40, 5)
        altered = cv2.addWeighted(altered, 0.7, np.full_like(altered, int(altered.mean())), 0.3, 0)
    elif kind == 1:  # re-coloured skin
        altered = colour_distortion(rgb, rng, amount=2.0)
    else:  # a specular highlight off a glossy surface
        h, w = rgb.shape[:2]
        spot = face_mask((h, w), rng, softness=1.0) * rng.uniform(0.3, 0.7)
        altered = to_uint8(to_float(rgb) + spot)
    out = to_float(rgb) * (1.0 - mask) + to_float(altered) * mask
    return to_uint8(out)

"""Synthetic print attacks: a live face turned into what a camera sees of a printed photo.

A print has a smaller gamut than the scene (no deep blacks, a paper white, muted saturation),
shows the printer's halftone dot screen, the paper's texture, and the blur of a hand-held sheet
re-photographed at a distance. Each step is a function; :func:`simulate_print` chains them with
random parameters.
"""

from __future__ import annotations

import cv2
import numpy as np

from ml.augment.artefacts import smooth_noise
from ml.augment.nuisance import to_float, to_uint8

# Classic CMYK screen angles (degrees): they keep the channel dot grids from beating visibly.
_SCREEN_ANGLES = (15.0, 75.0, 0.0)


def reduce_gamut(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Compress the dynamic range into the paper's (black ink ~0.1-0.2, paper white ~0.85-0.95)."""
    x = to_float(rgb)
    black = rng.uniform(0.06, 0.2)
    white = rng.uniform(0.8, 0.95)
    paper = np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 0.98)], np.float32)  # warm paper
    grey = x.mean(axis=2, keepdims=True)
    sat = rng.uniform(0.55, 0.9)
    x = grey + sat * (x - grey)
    return to_uint8((black + (white - black) * x) * paper)


def halftone(rgb: np.ndarray, rng: np.random.Generator, upsample: int = 3) -> np.ndarray:
    """A CMY dot screen: each ink channel thresholded against a rotated cosine grid.

    Rendered at ``upsample`` x the crop size and reduced with area averaging, as a camera lens
    integrates dots smaller than its pixels: what remains is the fine periodic texture.
    """
    h, w = rgb.shape[:2]
    big = cv2.resize(rgb, (w * upsample, h * upsample), interpolation=cv2.INTER_LINEAR)
    ink = 1.0 - to_float(big)
    cell = rng.uniform(2.0, 4.5) * upsample / 2.0
    yy, xx = np.mgrid[0 : h * upsample, 0 : w * upsample].astype(np.float32)
    offset = rng.uniform(0, 15)
    out = np.empty_like(ink)
    for c, angle in enumerate(_SCREEN_ANGLES):
        t = np.deg2rad(angle + offset)
        u = xx * np.cos(t) + yy * np.sin(t)
        v = -xx * np.sin(t) + yy * np.cos(t)
        screen = (np.cos(2 * np.pi * u / cell) + np.cos(2 * np.pi * v / cell)) / 4.0 + 0.5
        out[..., c] = 1.0 - (ink[..., c] > screen).astype(np.float32)
    small = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)
    mix = rng.uniform(0.25, 0.6)
    return to_uint8((1 - mix) * to_float(rgb) + mix * small)


def paper_texture(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fibre grain (fine noise, stretched along one direction) and uneven lighting of a sheet."""
    h, w = rgb.shape[:2]
    grain = rng.normal(0, 1, size=(h, w)).astype(np.float32)
    k = int(rng.integers(1, 4)) * 2 + 1
    grain = np.asarray(cv2.blur(grain, (k, 1) if rng.random() < 0.5 else (1, k)), np.float32)
    shade = smooth_noise((h, w), rng, 2)
    x = to_float(rgb) * (1.0 + rng.uniform(0.04, 0.12) * shade[..., None]) + rng.uniform(0.01, 0.04) * grain[..., None]
    return to_uint8(x)


def bend(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand-held sheet is never flat: a slight perspective tilt with a cylindrical curl."""
    h, w = rgb.shape[:2]
    d = rng.uniform(0.0, 0.08, size=(4, 2)) * (w, h)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = np.array([[d[0, 0], d[0, 1]], [w - d[1, 0], d[1, 1]], [w - d[2, 0], h - d[2, 1]], [d[3, 0], h - d[3, 1]]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    xx = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    yy = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    curl = rng.uniform(-0.04, 0.04) * h * np.sin(np.pi * xx / w)
    return cv2.remap(warped, xx, yy + curl, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def simulate_print(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random print attack made from a live crop (same size, uint8 RGB)."""
    out = reduce_gamut(rgb, rng)
    if rng.random() < 0.8:
        out = halftone(out, rng)
    out = paper_texture(out, rng)
    if rng.random() < 0.6:
        out = bend(out, rng)
    if rng.random() < 0.7:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.2))
    return out

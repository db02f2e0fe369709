"""Synthetic screen replay: a live face as a camera sees it on a phone or monitor.

The camera samples a display's sub-pixel grid at a rate unrelated to its pitch, so the two grids
beat into moire fringes. :func:`moire` builds that physically: the face is shown on a rotated RGB
sub-pixel grid rendered at high resolution, then resampled to the crop size without
anti-aliasing. Displays also add a gamma/colour cast (blue-ish backlight, clipped whites),
glare from room lights, and sometimes the device's bezel entering the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from ml.augment.artefacts import smooth_noise
from ml.augment.nuisance import to_float, to_uint8


def moire(rgb: np.ndarray, rng: np.random.Generator, upsample: int = 4) -> np.ndarray:
    """Show ``rgb`` on a rotated sub-pixel grid and resample it (aliasing = moire)."""
    h, w = rgb.shape[:2]
    hh, ww = h * upsample, w * upsample
    big = cv2.resize(rgb, (ww, hh), interpolation=cv2.INTER_LINEAR)
    # Display pixel pitch in high-res pixels: around one crop pixel, where aliasing is strongest.
    pitch = rng.uniform(0.7, 1.6) * upsample
    angle = np.deg2rad(rng.uniform(-12, 12))
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    phase = (u / pitch) % 1.0  # position across one display pixel: R | G | B stripes
    stripe = np.stack([(phase < 1 / 3), (phase >= 1 / 3) & (phase < 2 / 3), (phase >= 2 / 3)], axis=-1).astype(np.float32)
    row_gap = (((v / pitch) % 1.0) < rng.uniform(0.75, 0.95)).astype(np.float32)[..., None]
    grid = stripe * row_gap * 3.0  # mean brightness preserved
    shown = to_float(big) * grid
    small = cv2.resize(shown, (w, h), interpolation=cv2.INTER_NEAREST if rng.random() < 0.5 else cv2.INTER_LINEAR)
    mix = rng.uniform(0.15, 0.45)
    return to_uint8((1 - mix) * to_float(rgb) + mix * np.clip(small, 0, 1.5))


def display_colour(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Display gamma, backlight tint and clipped highlights."""
    x = to_float(rgb)
    gamma = rng.uniform(0.7, 1.3)
    tint = np.array([rng.uniform(0.85, 1.0), rng.uniform(0.92, 1.05), rng.uniform(1.0, 1.2)], np.float32)
    gain = rng.uniform(1.0, 1.35)
    lift = rng.uniform(0.0, 0.12)  # backlight: blacks are grey
    return to_uint8(np.clip(lift + (1 - lift) * (x**gamma) * tint * gain, 0, 1))


def glare(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A reflection of a lamp or window on the glass: a bright soft blob or band."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    if rng.random() < 0.5:
        r = rng.uniform(0.15, 0.5) * w
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    else:  # a diagonal band
        t = rng.uniform(0, np.pi)
        d = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
        blob = np.exp(-(d**2) / (2 * (rng.uniform(0.05, 0.2) * w) ** 2))
    x = to_float(rgb) + rng.uniform(0.15, 0.6) * blob[..., None]
    return to_uint8(x)


def bezel(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The dark frame of the device entering the crop along one or two edges."""
    out = rgb.copy()
    h, w = rgb.shape[:2]
    colour = rng.uniform(0, 40, size=3).astype(np.uint8)
    for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
        t = int(rng.uniform(0.04, 0.14) * (w if side in (0, 1) else h))
        if side == 0:
            out[:, :t] = colour
        elif side == 1:
            out[:, w - t :] = colour
        elif side == 2:
            out[:t] = colour
        else:
            out[h - t :] = colour
    return out


def scanlines(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Horizontal banding from a refresh rate beating with the camera's rolling shutter."""
    h, _w = rgb.shape[:2]
    period = rng.uniform(3.0, 12.0)
    rows = 1.0 + rng.uniform(0.03, 0.1) * np.sin(2 * np.pi * np.arange(h, dtype=np.float32) / period + rng.uniform(0, 6.3))
    return to_uint8(to_float(rgb) * rows[:, None, None])


def simulate_screen(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random screen replay made from a live crop (same size, uint8 RGB)."""
    out = display_colour(rgb, rng)
    if rng.random() < 0.7:
        out = moire(out, rng)
    if rng.random() < 0.3:
        out = scanlines(out, rng)
    if rng.random() < 0.4:
        out = glare(out, rng)
    if rng.random() < 0.2:
        out = bezel(out, rng)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.3:  # backlight unevenness
        h, w = out.shape[:2]
        out = to_uint8(to_float(out) * (1.0 + 0.08 * smooth_noise((h, w), rng, 2)[..., None]))
    return out

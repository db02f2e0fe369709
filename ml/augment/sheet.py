"""Contact sheets of augmentations, and the synthetic test face the committed sheet is drawn from.

The sheet in ``ml/docs/`` must carry no one's likeness, so it is rendered from
:func:`synthetic_face`, a face drawn from ellipses and gradients on a test-card background
(colour bars and a fine grating that makes halftone and moire visible). The CLI can also build
sheets from any folder of images into ``runs/`` for local inspection.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ml.augment.nuisance import nuisance
from ml.augment.synth import SPOOF_KINDS

_BARS = [(235, 235, 235), (235, 235, 16), (16, 235, 235), (16, 235, 16), (235, 16, 235), (235, 16, 16), (16, 16, 235)]


def synthetic_face(size: int = 256, seed: int = 0) -> np.ndarray:
    """A procedurally drawn frontal face on a test card (uint8 RGB, ``size`` x ``size``)."""
    rng = np.random.default_rng(seed)
    s = size / 256.0
    img = np.zeros((size, size, 3), np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img[:] = (0.55 + 0.25 * yy / size)[..., None] * np.array([0.75, 0.8, 0.9], np.float32)  # wall
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + yy) / (3.0 * s))  # fine diagonal grating, top band
    band = int(40 * s)
    img[:band] = grating[:band, :, None] * 0.8 + 0.1
    bar_w = size / len(_BARS)
    for i, colour in enumerate(_BARS):  # colour bars along the bottom
        img[size - int(24 * s) :, int(i * bar_w) : int((i + 1) * bar_w)] = np.array(colour, np.float32) / 255.0
    out = (img * 255).astype(np.uint8)
    skin = tuple(int(v) for v in rng.uniform([190, 140, 110], [235, 190, 160]))
    hair = tuple(int(v) for v in rng.uniform(25, 95) * np.array([1.0, 0.75, 0.55]))  # dark to mid brown
    c = (size // 2, int(size * 0.52))

    def p(x: float, y: float) -> tuple[int, int]:
        return (round(c[0] + x * s), round(c[1] + y * s))

    def ax(a: float, b: float) -> tuple[int, int]:
        return (round(a * s), round(b * s))

    cv2.rectangle(out, p(-90, 95), p(90, 140), (60, 80, 140), -1)  # shirt
    cv2.rectangle(out, p(-22, 60), p(22, 100), skin, -1)  # neck
    cv2.ellipse(out, p(0, -18), ax(72, 88), 0, 180, 360, hair, -1)  # hair cap
    cv2.ellipse(out, p(0, 0), ax(62, 82), 0, 0, 360, skin, -1)  # face
    for side in (-1, 1):
        cv2.ellipse(out, p(side * 64, 0), ax(9, 16), 0, 0, 360, skin, -1)  # ears
        cv2.ellipse(out, p(side * 24, -14), ax(13, 7), 0, 0, 360, (245, 245, 245), -1)  # eye white
        cv2.circle(out, p(side * 24, -14), int(5 * s), (70, 50, 30), -1)  # iris
        cv2.circle(out, p(side * 24, -14), max(1, int(2 * s)), (10, 10, 10), -1)  # pupil
        cv2.ellipse(out, p(side * 24, -30), ax(16, 4), 0, 180, 360, hair, max(1, int(3 * s)))  # brow
    cv2.line(out, p(0, -8), p(-6, 18), (150, 100, 80), max(1, int(2 * s)))  # nose
    cv2.ellipse(out, p(0, 40), ax(20, 8), 0, 0, 180, (160, 60, 60), max(1, int(4 * s)))  # mouth
    # Soft shading so the face has relief (a flat cartoon would hide the gamut effects).
    shade = np.clip(1.0 - 0.25 * (((xx - c[0]) / (70 * s)) ** 2 + ((yy - c[1]) / (90 * s)) ** 2), 0.7, 1.0)
    skin_mask = np.all(np.abs(out.astype(int) - np.array(skin)) < 2, axis=2)
    shaded = out.astype(np.float32)
    shaded[skin_mask] *= shade[skin_mask][:, None]
    noise = rng.normal(0, 3.0, size=out.shape)  # camera noise: nothing is perfectly flat
    return np.clip(shaded + noise, 0, 255).astype(np.uint8)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    h = out.shape[0]
    scale = max(0.3, h / 300.0)
    cv2.rectangle(out, (0, 0), (out.shape[1], int(16 * scale / 0.4)), (0, 0, 0), -1)
    cv2.putText(out, text, (3, int(12 * scale / 0.4)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def contact_sheet(
    faces: Sequence[np.ndarray], kinds: Sequence[str] | None = None, seed: int = 0, tile: int = 160, variants: int = 3
) -> np.ndarray:
    """Rows = faces, columns = original, nuisance, then ``variants`` examples per spoof kind.

    Tiles are enlarged with nearest-neighbour so the dot screens and moire stay visible.
    """
    kinds = list(kinds or SPOOF_KINDS)
    rng = np.random.default_rng(seed)
    rows = []
    for face in faces:
        tiles = [_label(_show(face, tile), "original"), _label(_show(nuisance(face, rng), tile), "both-class aug")]
        for kind in kinds:
            for _ in range(variants):
                tiles.append(_label(_show(SPOOF_KINDS[kind](face, rng), tile), kind))
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def _show(rgb: np.ndarray, tile: int) -> np.ndarray:
    return cv2.resize(rgb, (tile, tile), interpolation=cv2.INTER_NEAREST)

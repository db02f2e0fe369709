"""Spoof synthesis does what its physics says, deterministically, on the synthetic test face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ml.augment import SPOOF_KINDS, make_spoof, nuisance
from ml.augment.nuisance import jpeg, rescale
from ml.augment.print_attack import halftone, reduce_gamut
from ml.augment.screen import bezel, moire
from ml.augment.sheet import contact_sheet, synthetic_face

SIZE = 96


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return cv2.resize(synthetic_face(256, seed=1), (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def high_frequency_energy(rgb: np.ndarray) -> float:
    """Share of spectral energy beyond a quarter of the Nyquist radius (grey image)."""
    grey = rgb.astype(np.float64).mean(axis=2)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2
    h, w = grey.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    return float(spec[r > min(h, w) / 8].sum() / spec.sum())


@pytest.mark.parametrize("kind", sorted(SPOOF_KINDS))
def test_every_kind_keeps_shape_changes_pixels_and_is_seeded(face: np.ndarray, kind: str) -> None:
    a = make_spoof(face, np.random.default_rng(3), kind)
    b = make_spoof(face, np.random.default_rng(3), kind)
    c = make_spoof(face, np.random.default_rng(4), kind)
    assert a.shape == face.shape and a.dtype == np.uint8
    assert np.abs(a.astype(int) - face).mean() > 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_moire_adds_high_frequency_energy(face: np.ndarray) -> None:
    smooth = cv2.GaussianBlur(face, (0, 0), 1.5)
    gains = [high_frequency_energy(moire(smooth, np.random.default_rng(s))) for s in range(5)]
    assert min(gains) > 1.5 * high_frequency_energy(smooth)


def test_halftone_adds_high_frequency_energy(face: np.ndarray) -> None:
    smooth = cv2.GaussianBlur(face, (0, 0), 1.5)
    assert high_frequency_energy(halftone(smooth, np.random.default_rng(0))) > 1.5 * high_frequency_energy(smooth)


def test_print_gamut_has_no_deep_black_nor_pure_white() -> None:
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], (64, 1, 3))
    out = reduce_gamut(ramp, np.random.default_rng(0))
    assert out.min() >= 10 and out.max() <= 245


def test_bezel_darkens_an_edge(face: np.ndarray) -> None:
    out = bezel(np.full_like(face, 200), np.random.default_rng(0))
    edges = np.concatenate([out[:, 0], out[:, -1], out[0], out[-1]])
    assert edges.min() <= 40


def test_rescale_loses_detail_and_jpeg_keeps_size(face: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    assert high_frequency_energy(rescale(face, rng, 0.3, 0.3)) < high_frequency_energy(face)
    assert jpeg(face, rng).shape == face.shape


def test_nuisance_is_label_preserving_in_scale(face: np.ndarray) -> None:
    outs = [nuisance(face, np.random.default_rng(s)) for s in range(8)]
    assert all(o.shape == face.shape for o in outs)
    # Light and framing change, but a face stays a face: mean colour stays in a sane range.
    assert all(40 < o.mean() < 215 for o in outs)


def test_contact_sheet_is_a_grid_of_tiles(face: np.ndarray) -> None:
    sheet = contact_sheet([face, face], kinds=["print", "screen"], tile=50, variants=2)
    assert sheet.shape == (100, 50 * (2 + 2 * 2), 3)


def test_synthetic_face_is_deterministic_and_seed_dependent() -> None:
    a, b, c = synthetic_face(256, seed=0), synthetic_face(256, seed=0), synthetic_face(256, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (256, 256, 3) and not np.array_equal(a, c)

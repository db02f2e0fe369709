"""Label-preserving augmentations applied to BOTH classes: they remove shortcuts, not attacks.

In the shared sets, spoof crops are often much smaller and more compressed than live ones, so a
model can learn "blurry/blocky = spoof" and fail on a sharp replay or a poor webcam. Random
down/up-scaling, JPEG re-compression, light, framing jitter and sensor noise applied to live and
spoof alike make those cues useless during training.

All functions take and return uint8 RGB arrays of one size and draw randomness only from the
``numpy.random.Generator`` they are given (training is reproducible from its seed).
"""

from __future__ import annotations

import cv2
import numpy as np


def to_float(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / 255.0


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def rescale(rgb: np.ndarray, rng: np.random.Generator, low: float = 0.3, high: float = 1.0) -> np.ndarray:
    """Lose resolution: shrink to a random fraction of the side and enlarge back (resize-first cue killer)."""
    h, w = rgb.shape[:2]
    f = rng.uniform(low, high)
    small = cv2.resize(rgb, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_CUBIC
    return cv2.resize(small, (w, h), interpolation=interp)


def jpeg(rgb: np.ndarray, rng: np.random.Generator, low: int = 30, high: int = 95) -> np.ndarray:
    """Re-compress as JPEG at a random quality (blocking and ringing on both classes)."""
    q = int(rng.integers(low, high + 1))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return rgb if decoded is None else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def light(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Brightness, contrast, gamma and white-balance changes of a different camera or room."""
    x = to_float(rgb)
    gain = 1.0 + strength * rng.uniform(-0.35, 0.35)
    bias = strength * rng.uniform(-0.1, 0.1)
    gamma = float(np.exp(strength * rng.uniform(-0.4, 0.4)))
    wb = 1.0 + strength * rng.uniform(-0.08, 0.08, size=3).astype(np.float32)
    mean = x.mean()
    x = (x - mean) * gain + mean + bias
    x = np.clip(x * wb, 0.0, 1.0) ** gamma
    return to_uint8(x)


def framing(rgb: np.ndarray, rng: np.random.Generator, shift: float = 0.06, zoom: float = 0.1, angle: float = 10.0) -> np.ndarray:
    """Small shift/zoom/rotation: HOG boxes jitter from frame to frame and between cameras."""
    h, w = rgb.shape[:2]
    a = rng.uniform(-angle, angle)
    s = 1.0 + rng.uniform(-zoom, zoom)
    m = np.asarray(cv2.getRotationMatrix2D((w / 2.0, h / 2.0), a, s), np.float64)
    m[:, 2] += rng.uniform(-shift, shift, size=2) * (w, h)
    out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def sensor_noise(rgb: np.ndarray, rng: np.random.Generator, sigma: float = 0.03) -> np.ndarray:
    """Gaussian read noise of a cheap webcam in low light."""
    x = to_float(rgb) + rng.normal(0.0, rng.uniform(0.0, sigma), size=rgb.shape).astype(np.float32)
    return to_uint8(x)


def blur(rgb: np.ndarray, rng: np.random.Generator, max_sigma: float = 1.2) -> np.ndarray:
    """Defocus or motion-free smoothing (autofocus hunting)."""
    return cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.1, max_sigma))


def nuisance(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """The random chain applied to every training crop, live or spoof.

    Order follows a capture: framing, light, optics (blur/resolution), sensor noise, codec.
    """
    out = framing(rgb, rng)
    if rng.random() < 0.8 * strength:
        out = light(out, rng, strength)
    if rng.random() < 0.2 * strength:
        out = blur(out, rng)
    if rng.random() < 0.6 * strength:
        out = rescale(out, rng)
    if rng.random() < 0.3 * strength:
        out = sensor_noise(out, rng)
    if rng.random() < 0.6 * strength:
        out = jpeg(out, rng)
    return out

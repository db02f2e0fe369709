"""Synthetic screen-light material: frames lit by the page's colour, and whole simulated steps.

The physics is the study's (ml/studies/screenlight.py) in its simplest form: in linear light a
pixel that the screen reaches gains ``strength * s_c`` of itself (same albedo, the screen's extra
illuminance), the background a small share of it; a global tint multiplies the whole picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from webapp.challenge import screenlight as sl
from webapp.face.image import encode_jpeg

BOX = (170, 90, 310, 250)  # the synthetic face's box in a 480x360 frame

_LIN = sl._LINEAR


def base_scene(seed: int = 0, skin: Sequence[int] = (175, 125, 100)) -> np.ndarray:
    """A 480x360 room: a textured grey-blue wall, a skin-coloured face ellipse in ``BOX``, a shirt."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:360, 0:480]
    wall = np.stack([100 + 0.05 * xx, 110 + 0.03 * yy, 125 + 0.02 * xx], axis=-1) + rng.normal(0, 4, (360, 480, 3))
    img = np.clip(wall, 0, 255).astype(np.uint8)
    x0, y0, x1, y1 = BOX
    cv2.ellipse(img, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, tuple(int(v) for v in skin), -1)
    cv2.rectangle(img, (x0 - 40, y1 + 10), (x1 + 40, 360), (60, 70, 90), -1)
    return img


def lit(scene: np.ndarray, colour: Sequence[float], strength: float, background: float = 0.03, tint: float = 0.0) -> np.ndarray:
    """``scene`` with the page's ``colour`` (0-1 per channel) reflected by the face at ``strength``
    (screen / ambient illuminance), the background at ``background`` of it, and ``tint`` of the
    colour over the whole picture (an attacker's screen reflecting the page)."""
    lin = _LIN[scene]
    s = np.asarray(colour, np.float32)
    k = np.full(scene.shape[:2], background, np.float32)
    x0, y0, x1, _y1 = BOX
    k[y0 - 20 :, x0 - 40 : x1 + 40] = 1.0  # the face and the body below it face the screen
    lin = lin * (1 + np.float32(strength) * k[..., None] * s) * (1 + np.float32(tint) * s)
    return sl.to_srgb8(lin)


def jpeg_of(rgb: np.ndarray, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    noisy = np.clip(rgb.astype(np.int16) + rng.integers(-2, 3, rgb.shape), 0, 255).astype(np.uint8)
    return encode_jpeg(noisy, 85)


def colour_of(instruction: dict[str, Any] | None) -> np.ndarray:
    """The page's backdrop for a server answer's ``light`` (black when there is none)."""
    if not instruction:
        return np.zeros(3)
    return np.array(sl.PALETTE[instruction["colour"]], np.float64) / 255.0


def run_step(
    kind: str,
    strength: float = 0.3,
    seed: int = 0,
    delay: float = 0.0,
    gap: float = 0.3,
    cfg: sl.LightSettings | None = None,
    skin: Sequence[int] = (175, 125, 100),
) -> tuple[dict[str, Any], sl.LightResult]:
    """One screen-light step on synthetic frames, judged by the server's code.

    ``kind``: "live" (the face reflects the page), "none" (a recording: nothing), "tint" (the whole
    picture tinted). ``delay`` shifts the response later (a relay). Frames every ``gap`` s; the page
    applies a told colour 50 ms after the answer, the camera sees the scene 80 ms before arrival.
    """
    cfg = cfg or sl.LightSettings()
    rng = np.random.default_rng(seed)
    plan = sl.draw_plan(cfg)
    scene = base_scene(seed, skin)
    shown: list[tuple[float, np.ndarray]] = [(-1e9, np.zeros(3))]
    t = 1.0
    sl.tell(plan, t)
    shown.append((t + 0.05, colour_of(sl.instruction(plan, t, cfg))))
    end = sl.sequence_end(plan)
    assert end is not None
    while t < end:
        t += gap + rng.uniform(-0.05, 0.05)
        seen_at = t - 0.08 - delay
        colour = [c for at, c in shown if at <= seen_at][-1]
        if kind == "live":
            rgb = lit(scene, colour, strength)
        elif kind == "tint":
            rgb = lit(scene, colour, 0.0, tint=strength)
        else:
            rgb = lit(scene, colour, 0.0)
        rgb = cv2.imdecode(np.frombuffer(jpeg_of(rgb, seed * 1000 + len(plan["samples"])), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        sample = sl.measure(np.ascontiguousarray(rgb), BOX, None)
        assert sample is not None
        sl.record(plan, t, sample)
        done = t + 0.15
        sl.tell(plan, done)
        told = sl.instruction(plan, done, cfg)
        if told is not None:
            shown.append((done + 0.05, colour_of(told)))
    return plan, sl.evaluate(plan, cfg)

"""Near-duplicate frames: catch re-sent and re-encoded frames that sha256 cannot.

A client replaying captured frames can re-encode them (another JPEG quality, a little noise, a
slight rescale) so that no two uploads are byte-identical. Two measurements, both on the whole
frame (face-region crops move with the detector's box, which jitters by pixels when the same
picture is re-encoded, and that jitter swamps the comparison):

* 64-bit perceptual hashes, cheap to store for every frame of an attempt (16 hex characters):
  pHash - 32x32 grey, 2-D DCT, the 8x8 lowest frequencies against their median (Zauner, 2010,
  "Implementation and Benchmarking of Perceptual Image Hash Functions"; the ``imagehash``
  package's ``phash``) - and dHash - 9x8 grey, each cell brighter than its right neighbour
  (Krawetz, 2013, "Kind of Like That", hackerfactor.com).
* A block-mean fingerprint: the frame's grey level averaged over a 16x12 grid of 30x30-pixel
  blocks (at 480x360). Averaging 900 pixels removes sensor noise and JPEG differences almost
  completely, while a present person - never perfectly still - changes the blocks around their
  face by a grey level or more between frames a fifth of a second apart. The distance is the
  largest block change after removing the median change (auto-exposure shifts every block).

Measured (``python -m ml.blink.cues phash``, ml/blink/README.md): 64-bit hashes alone cannot
separate the two - live frames of a still person hash identically to an earlier frame of the
same attempt about 8 % of the time - so they serve as a prefilter; the fingerprint decides.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from webapp.config import DEFAULTS

FINGERPRINT_GRID = (16, 12)  # blocks across, down
_SCALE = 16  # fingerprint values stored as round(mean * 16) in uint16 (1/16 grey level)


@dataclass(frozen=True)
class NearDuplicateSettings:
    """When two frames show the same picture (NEAR_DUP_* in webapp/config.py, where the
    calibration is described): pHash and dHash as a prefilter, then the fingerprint."""

    phash_near: int = DEFAULTS["NEAR_DUP_PHASH"]  # pHash Hamming distance at most this ...
    dhash_near: int = DEFAULTS["NEAR_DUP_DHASH"]  # ... and dHash at most this
    fingerprint_near: float = DEFAULTS["NEAR_DUP_FINGERPRINT"]  # grey levels: at or below = re-sent


_DEFAULT_NEAR = NearDuplicateSettings()
PHASH_NEAR = _DEFAULT_NEAR.phash_near
DHASH_NEAR = _DEFAULT_NEAR.dhash_near
FINGERPRINT_NEAR = _DEFAULT_NEAR.fingerprint_near


@dataclass(frozen=True)
class FrameHash:
    """The perceptual hashes (hex) and block fingerprint (base64) of one frame."""

    phash: str
    dhash: str
    fingerprint: str

    def as_list(self) -> list[str]:
        return [self.phash, self.dhash, self.fingerprint]

    @classmethod
    def from_list(cls, values: Sequence[str]) -> FrameHash:
        return cls(str(values[0]), str(values[1]), str(values[2]) if len(values) > 2 else "")


def _bits_to_hex(bits: np.ndarray) -> str:
    value = 0
    for b in bits.ravel():
        value = (value << 1) | int(bool(b))
    return f"{value:016x}"


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image.astype(np.float32, copy=False)  # frame_hash passes one grey copy to all three


def phash(image: np.ndarray) -> str:
    """64-bit DCT perceptual hash (hex) of an RGB or grey image."""
    small = cv2.resize(_grey(image), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8]
    return _bits_to_hex(low > np.median(low))


def dhash(image: np.ndarray) -> str:
    """64-bit difference hash (hex) of an RGB or grey image."""
    small = cv2.resize(_grey(image), (9, 8), interpolation=cv2.INTER_AREA)
    return _bits_to_hex(small[:, 1:] > small[:, :-1])


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def fingerprint(image: np.ndarray, grid: tuple[int, int] = FINGERPRINT_GRID) -> str:
    """Block means of the grey image on ``grid`` (across, down), as base64 of uint16 (x16)."""
    blocks = cv2.resize(_grey(image), grid, interpolation=cv2.INTER_AREA)
    packed = np.round(blocks * _SCALE).astype("<u2")
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpack(fp: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(fp), dtype="<u2").astype(np.float32) / _SCALE


def fingerprint_distance(a: str, b: str) -> float:
    """Largest block change in grey levels once the median change (exposure) is removed."""
    da, db = _unpack(a), _unpack(b)
    if da.shape != db.shape or da.size == 0:
        return float("inf")
    diff = da - db
    return float(np.max(np.abs(diff - np.median(diff))))


def frame_hash(rgb: np.ndarray) -> FrameHash:
    """All near-duplicate measurements of one decoded frame (about 1 ms at 480x360)."""
    grey = _grey(rgb)
    return FrameHash(phash(grey), dhash(grey), fingerprint(grey))


def is_near_duplicate(a: FrameHash, b: FrameHash, near: NearDuplicateSettings = _DEFAULT_NEAR) -> bool:
    """The same picture, re-encoded: close hashes AND a close fingerprint.

    Without a fingerprint on either side the answer is False: the hashes alone flag live frames
    of a still person (measured), and a false replay verdict locks a real user out.
    """
    if hamming(a.phash, b.phash) > near.phash_near or hamming(a.dhash, b.dhash) > near.dhash_near:
        return False
    if not a.fingerprint or not b.fingerprint:
        return False
    return fingerprint_distance(a.fingerprint, b.fingerprint) <= near.fingerprint_near


def nearest_duplicate(current: FrameHash, seen: Sequence[Sequence[str]], near: NearDuplicateSettings = _DEFAULT_NEAR) -> int | None:
    """Index in ``seen`` (stored ``FrameHash.as_list()`` values) of a near-duplicate, else None.

    Compared against every earlier frame the attempt kept, not only the previous one: a replay
    that loops a short clip repeats frames from seconds before.
    """
    for i, values in enumerate(seen):
        if is_near_duplicate(current, FrameHash.from_list(values), near):
            return i
    return None

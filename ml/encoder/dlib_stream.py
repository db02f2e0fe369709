"""Reading dlib's binary serialization (dlib/serialize.h), the primitives only.

dlib writes integers as one header byte (low nibble: how many value bytes follow; bit 7: the
sign) and then the magnitude little endian, with leading zero bytes dropped. A float or double
is two such integers, a mantissa and a base-2 exponent. A string is its length (an integer)
then its bytes. A bool is the ASCII character ``'0'`` or ``'1'``. A tensor (dlib/cuda/tensor.h)
is a version integer (2), four dimensions (num_samples, k, nr, nc), then its values as raw
4-byte little-endian IEEE floats. An ``alias_tensor`` (a view into a layer's parameter tensor)
is a version integer (1) and its four dimensions, no data.

This module only reads values; which value comes where is :mod:`ml.encoder.dlib_net`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DlibFormatError(ValueError):
    """The stream is not what the reader expected at this point (offset in the message)."""


@dataclass
class DlibStream:
    """A cursor over one serialized dlib object."""

    data: bytes
    pos: int = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DlibFormatError(f"offset {self.pos}: wanted {n} bytes, {len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def at_end(self) -> bool:
        return self.pos == len(self.data)

    def integer(self) -> int:
        start = self.pos
        header = self._take(1)[0]
        size = header & 0x0F
        if size > 8 or header & 0x70:
            raise DlibFormatError(f"offset {start}: bad integer header 0x{header:02x}")
        value = int.from_bytes(self._take(size), "little")
        return -value if header & 0x80 else value

    def real(self) -> float:
        """A float or double: mantissa * 2**exponent (dlib's float_details)."""
        mantissa = self.integer()
        exponent = self.integer()
        return float(mantissa) * 2.0**exponent

    def string(self) -> str:
        n = self.integer()
        try:
            return self._take(n).decode("ascii")
        except UnicodeDecodeError as exc:
            raise DlibFormatError(f"offset {self.pos - n}: string is not ASCII") from exc

    def expect_string(self, *accepted: str) -> str:
        start = self.pos
        found = self.string()
        if found not in accepted:
            raise DlibFormatError(f"offset {start}: found {found!r}, expected one of {accepted}")
        return found

    def expect_integer(self, value: int, what: str) -> None:
        start = self.pos
        found = self.integer()
        if found != value:
            raise DlibFormatError(f"offset {start}: {what} is {found}, expected {value}")

    def boolean(self) -> bool:
        start = self.pos
        c = self._take(1)
        if c not in (b"0", b"1"):
            raise DlibFormatError(f"offset {start}: bad bool byte {c!r}")
        return c == b"1"

    def tensor(self) -> np.ndarray:
        """A resizable_tensor as a float32 array of shape (num_samples, k, nr, nc)."""
        self.expect_integer(2, "tensor version")
        dims = tuple(self.integer() for _ in range(4))
        if any(d < 0 for d in dims):
            raise DlibFormatError(f"offset {self.pos}: negative tensor dimension {dims}")
        count = int(np.prod(dims))
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def alias(self) -> tuple[int, int, int, int]:
        """An alias_tensor's dimensions (its values live in the layer's params tensor)."""
        self.expect_integer(1, "alias_tensor version")
        n, k, nr, nc = (self.integer() for _ in range(4))
        return n, k, nr, nc

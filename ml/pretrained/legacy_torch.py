"""Read legacy (pre-1.6, non-zip) PyTorch state dicts into numpy, without PyTorch.

The service and the test suite never install PyTorch, yet the Silent-Face weights ship as
``torch.save`` files of the old format. That format is a concatenation of pickles followed by
raw storage bytes (``torch/serialization.py``, ``_legacy_save``):

1. pickle: the magic number ``0x1950a86a20f9469cfc6c``;
2. pickle: the protocol version (1001);
3. pickle: system info (byte order, type sizes);
4. pickle: the object itself; every tensor is ``torch._utils._rebuild_tensor_v2(storage,
   offset, size, stride, requires_grad, hooks)`` and every storage is a *persistent id*
   ``("storage", <type>, key, location, numel, view_metadata)``;
5. pickle: the list of storage keys, in the order their bytes follow;
6. per key: an 8-byte little-endian element count, then ``count * element size`` bytes.

Unpickling runs code named by the file, so :class:`_StateDictUnpickler` resolves only the
globals a state dict needs (OrderedDict, the tensor rebuild function, storage types) to inert
stand-ins; anything else raises :class:`UnsafePickle`.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage type -> numpy dtype (the little-endian element type torch writes).
STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafePickle(pickle.UnpicklingError):
    """The file names a global a plain state dict never needs: refused, never imported."""


class LegacyFormatError(ValueError):
    """The bytes are not a legacy torch.save file, or its tensors do not fit their storages."""


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only its element type matters here."""

    name: str

    @property
    def dtype(self) -> np.dtype[Any]:
        return STORAGE_DTYPES[self.name]


@dataclass(frozen=True)
class _StorageRef:
    """A storage named by a persistent id; its bytes come after the pickles."""

    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    """What ``_rebuild_tensor_v2`` would build: a strided view of one storage."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: _StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], requires_grad: bool = False, *_: Any
) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise LegacyFormatError("a tensor's storage is not a persistent storage id")
    return _TensorRef(storage, int(offset), tuple(int(s) for s in shape), tuple(int(s) for s in stride))


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that knows exactly the globals of a legacy state dict and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickle(f"refusing global {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise LegacyFormatError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise LegacyFormatError(f"persistent id names no storage type: {storage_type!r}")
        if view_metadata is not None:
            raise LegacyFormatError("storage views (torch < 0.4 files) are not supported")
        return _StorageRef(str(key), storage_type.dtype, int(numel))


def _load_plain(fh: IO[bytes]) -> Any:
    """One of the header pickles: plain values only, so no global at all is allowed."""
    return _StateDictUnpickler(fh).load()


def _materialise(ref: _TensorRef, storage: np.ndarray) -> np.ndarray:
    """Copy the strided view ``ref`` out of ``storage``, refusing views that run past its end."""
    if not ref.shape:
        extent = 1
    else:
        if any(s < 0 for s in ref.stride) or any(n < 0 for n in ref.shape):
            raise LegacyFormatError("negative sizes or strides")
        extent = 0 if 0 in ref.shape else 1 + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True))
    if ref.offset < 0 or ref.offset + extent > storage.size:
        raise LegacyFormatError(f"tensor of shape {ref.shape} at offset {ref.offset} overruns its storage of {storage.size}")
    base = storage[ref.offset :]
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(base, shape=ref.shape, strides=tuple(s * item for s in ref.stride), writeable=False)
    return np.array(view, dtype=storage.dtype.newbyteorder("="), copy=True)


def load_legacy_state_dict(source: Path | bytes, strip_prefix: str = "module.") -> dict[str, np.ndarray]:
    """The state dict in ``source`` as ``{name: array}``; ``strip_prefix`` (DataParallel's) is removed.

    Raises :class:`UnsafePickle` for any global beyond a state dict's, and
    :class:`LegacyFormatError` for a file that is not the legacy format or is inconsistent.
    """
    data = Path(source).read_bytes() if isinstance(source, Path) else bytes(source)
    if data[:2] == b"PK":
        raise LegacyFormatError("this is a zip-format (torch >= 1.6) checkpoint, not the legacy format")
    fh = io.BytesIO(data)
    try:
        magic = _load_plain(fh)
        if magic != LEGACY_MAGIC:
            raise LegacyFormatError("not a legacy torch.save file (bad magic number)")
        protocol = _load_plain(fh)
        if protocol != LEGACY_PROTOCOL:
            raise LegacyFormatError(f"unsupported legacy protocol {protocol!r}")
        sys_info = _load_plain(fh)
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
            raise LegacyFormatError("only little-endian files are supported")
        obj = _StateDictUnpickler(fh).load()
        keys = _load_plain(fh)
    except (EOFError, struct.error) as exc:
        raise LegacyFormatError(f"truncated file: {exc}") from exc
    if not isinstance(obj, dict):
        raise LegacyFormatError(f"the pickled object is a {type(obj).__name__}, not a state dict")
    if not isinstance(keys, list):
        raise LegacyFormatError("missing storage key list")

    refs: dict[str, _StorageRef] = {}
    for value in obj.values():
        if not isinstance(value, _TensorRef):
            raise LegacyFormatError(f"state dict value of type {type(value).__name__} is not a tensor")
        refs.setdefault(value.storage.key, value.storage)

    storages: dict[str, np.ndarray] = {}
    for key in keys:
        header = fh.read(8)
        if len(header) != 8:
            raise LegacyFormatError("truncated storage header")
        (numel,) = struct.unpack("<q", header)
        ref = refs.get(str(key))
        if ref is None:
            raise LegacyFormatError(f"storage {key} is not used by any tensor")
        if numel != ref.numel:
            raise LegacyFormatError(f"storage {key}: {numel} elements on disk, {ref.numel} declared")
        raw = fh.read(numel * ref.dtype.itemsize)
        if len(raw) != numel * ref.dtype.itemsize:
            raise LegacyFormatError(f"storage {key} is truncated")
        storages[ref.key] = np.frombuffer(raw, dtype=ref.dtype)
    if fh.read(1):
        raise LegacyFormatError("trailing bytes after the last storage")
    missing = set(refs) - set(storages)
    if missing:
        raise LegacyFormatError(f"storages without data: {sorted(missing)[:3]}")

    out: dict[str, np.ndarray] = {}
    for name, value in obj.items():
        short = name[len(strip_prefix) :] if strip_prefix and name.startswith(strip_prefix) else name
        out[short] = _materialise(value, storages[value.storage.key])
    return out

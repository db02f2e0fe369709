"""Face templates sealed at rest: AES-256-GCM, the key outside the database.

Every identity encoding and liveness reference embedding is stored as an envelope
``b"LGS1" | key id (8) | nonce (12) | ciphertext + tag``. The associated data names the user id,
the username and the field, so a row copied onto another user (or a reference vector moved into
the encoding column) fails to open instead of matching someone else's face.

Keys come from ``TEMPLATE_KEYS`` (config or ``FLASK_TEMPLATE_KEYS``: a JSON list of base64 keys,
the first one seals) or, by default, the key file ``TEMPLATE_KEY_FILE`` (instance/template_keys:
one base64 key a line, the first current, created 0600 on first run). The key id is a hash of
the key, so an envelope names the key that opens it and ``flask keys rotate`` can re-seal under
a new key while old ones still read.
Rows written before sealing existed (raw float bytes) still read, and ``flask keys seal`` or
``rotate`` seals them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

MAGIC = b"LGS1"
KEY_FILE = "template_keys"
EXTENSION_KEY = "livegate.keyring"
_KID, _NONCE = 8, 12


class SealError(ValueError):
    """An envelope that no loaded key opens (wrong key, tampered bytes, another user's row)."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"livegate-template-key:" + key).digest()[:_KID]


def new_key() -> str:
    """A fresh 256-bit key, base64 (for TEMPLATE_KEYS or the key file)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a template key must be base64") from None
    if len(key) != 32:
        raise ValueError(f"a template key must be 32 bytes (AES-256), got {len(key)}")
    return key


@dataclass(frozen=True)
class Keyring:
    """The loaded keys, the first one current; ``source`` is the key file, or None for config."""

    keys: tuple[bytes, ...]
    source: Path | None = None

    @property
    def current_id(self) -> bytes:
        return key_id(self.keys[0])

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return MAGIC + self.current_id + nonce + AESGCM(self.keys[0]).encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """The plaintext of an envelope; a legacy unsealed value is returned as it is."""
        if not is_sealed(blob):
            return blob
        kid, nonce, body = blob[4 : 4 + _KID], blob[4 + _KID : 4 + _KID + _NONCE], blob[4 + _KID + _NONCE :]
        for key in self.keys:
            if key_id(key) == kid:
                try:
                    return AESGCM(key).decrypt(nonce, body, aad)
                except InvalidTag:
                    raise SealError("a sealed template does not open with its key and owner") from None
        raise SealError(f"no loaded template key has id {kid.hex()}")

    def needs_reseal(self, blob: bytes) -> bool:
        return not is_sealed(blob) or blob[4 : 4 + _KID] != self.current_id


def is_sealed(blob: bytes) -> bool:
    return blob[:4] == MAGIC


def _write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Replace the key file atomically, never readable by others."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(base64.b64encode(k).decode() + "\n" for k in keys))
    os.replace(tmp, path)


def load_keyring(configured: Sequence[str] | None, path: Path) -> Keyring:
    """The configured keys, else the key file at ``path`` (generated on first run, 0600)."""
    if configured:
        return Keyring(tuple(decode_key(k) for k in configured))
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key() + "\n")
        try:
            os.link(tmp, path)  # several workers starting at once end up with one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    keys = tuple(decode_key(line) for line in path.read_text().splitlines() if line.strip())
    if not keys:
        raise ValueError(f"{path}: no template key")
    return Keyring(keys, path)


def add_current_key(ring: Keyring) -> Keyring:
    """Rotation, step 1: a new current key in the key file, the old ones kept for reading."""
    if ring.source is None:
        raise ValueError("TEMPLATE_KEYS is set: put the new key first in it (keep the old after it), then run rotate")
    keys = (decode_key(new_key()), *ring.keys)
    _write_key_file(ring.source, keys)
    return Keyring(keys, ring.source)


def drop_old_keys(ring: Keyring) -> Keyring:
    """Rotation, last step (after every row is re-sealed): only the current key remains."""
    if ring.source is None:
        return ring
    _write_key_file(ring.source, ring.keys[:1])
    return Keyring(ring.keys[:1], ring.source)


def keyring() -> Keyring:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]

"""The ID-token signing keys: private JWKs in one file of the instance folder (mode 0600).

The file holds every key still published: the current one (the last, no ``retired_at``) and
those retired by ``flask oidc rotate-key`` less than one ID-token lifetime ago, so that tokens
signed just before a rotation still verify against the JWKS until they expire. It is created
on first use; like the secret key, it is written to a temporary file and linked or renamed
into place, so workers starting at once agree on one key and never read half a file.
Each process re-reads it when its modification time changes (a rotation by the CLI reaches
running workers without a restart).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, RSAKey

KEY_FILE = "oidc_keys.json"
_RSA_BITS = 2048

Key = RSAKey | ECKey


@dataclass(frozen=True)
class StoredKey:
    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None
    key: Key

    def public_jwk(self) -> dict[str, Any]:
        jwk = dict(self.key.as_dict(private=False))
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "jwk": self.key.as_dict(private=True),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredKey:
        jwk = data["jwk"]
        key: Key = RSAKey.import_key(jwk) if jwk["kty"] == "RSA" else ECKey.import_key(jwk)
        retired = data.get("retired_at")
        return cls(
            data["kid"], data["alg"], datetime.fromisoformat(data["created_at"]), datetime.fromisoformat(retired) if retired else None, key
        )


def generate_key(alg: str, now: datetime) -> StoredKey:
    """A new private key for ``alg`` (RS256: RSA 2048; ES256: P-256); kid = its thumbprint."""
    key: Key = RSAKey.generate_key(_RSA_BITS, private=True) if alg == "RS256" else ECKey.generate_key("P-256", private=True)
    return StoredKey(kid=key.thumbprint(), alg=alg, created_at=now, retired_at=None, key=key)


class KeyRing:
    """The keys of one file. ``current`` signs; ``published`` is what the JWKS shows."""

    def __init__(self, keys: list[StoredKey]) -> None:
        if not keys or keys[-1].retired_at is not None:
            raise ValueError("a key ring needs a current key (the last one, not retired)")
        self.keys = keys

    @property
    def current(self) -> StoredKey:
        return self.keys[-1]

    def published(self, now: datetime, retain_seconds: int) -> list[StoredKey]:
        """The current key and every key retired less than ``retain_seconds`` ago."""
        horizon = now - timedelta(seconds=retain_seconds)
        return [k for k in self.keys if k.retired_at is None or k.retired_at > horizon]

    def jwks(self, now: datetime, retain_seconds: int) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.published(now, retain_seconds)]}

    def rotated(self, alg: str, now: datetime, retain_seconds: int) -> KeyRing:
        """A new ring: a fresh current key, the old one retired now, expired ones dropped."""
        old = [StoredKey(k.kid, k.alg, k.created_at, k.retired_at or now, k.key) for k in self.keys]
        horizon = now - timedelta(seconds=retain_seconds)
        kept = [k for k in old if k.retired_at is not None and k.retired_at > horizon]
        return KeyRing([*kept, generate_key(alg, now)])

    def to_json(self) -> str:
        return json.dumps({"keys": [k.to_json() for k in self.keys]}, indent=1)


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically. ``replace=False`` keeps an
    existing file (the first writer wins, like the instance secret)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        if replace:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_ring(path: Path) -> KeyRing:
    data = json.loads(path.read_text())
    return KeyRing([StoredKey.from_json(k) for k in data["keys"]])


def ensure_ring(path: Path, alg: str, now: datetime) -> KeyRing:
    """The ring in ``path``, generating its first key when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, KeyRing([generate_key(alg, now)]).to_json(), replace=False)
    return read_ring(path)


def rotate(path: Path, alg: str, now: datetime, retain_seconds: int) -> KeyRing:
    """Retire the current key (still published for ``retain_seconds``) and start a new one."""
    ring = ensure_ring(path, alg, now).rotated(alg, now, retain_seconds)
    _write_private(path, ring.to_json(), replace=True)
    return ring


class KeyCache:
    """One process's view of the key file, re-read when the file changes."""

    def __init__(self, path: Path, alg: str) -> None:
        self.path = path
        self.alg = alg
        self._stamp: tuple[int, int] | None = None
        self._ring: KeyRing | None = None

    def ring(self, now: datetime) -> KeyRing:
        if self._ring is None or not self.path.exists():
            self._ring = ensure_ring(self.path, self.alg, now)
            self._stamp = self._stat()
            return self._ring
        stamp = self._stat()
        if stamp != self._stamp:
            self._ring = read_ring(self.path)
            self._stamp = stamp
        return self._ring

    def _stat(self) -> tuple[int, int]:
        st = self.path.stat()
        return st.st_mtime_ns, st.st_ino

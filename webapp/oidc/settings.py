"""The provider's knobs, typed (parsed from ``OIDC_*`` in ``webapp/settings.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SIGNING_ALGS = ("RS256", "ES256")


@dataclass(frozen=True)
class OidcSettings:
    # None: the URL the request came in on (fine for one host; set it behind proxies).
    issuer: str | None
    signing_alg: str  # one of SIGNING_ALGS
    key_file: Path | None  # None: instance/oidc_keys.json
    code_seconds: int  # authorization codes
    access_token_seconds: int
    id_token_seconds: int
    refresh_token_seconds: int  # 0: no refresh tokens
    # How long an authorization request waits for the face login it sent the user to.
    pending_seconds: int

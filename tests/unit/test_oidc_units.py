"""Pure parts of the OpenID Connect provider: the key ring, client validation, settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from webapp.config import DEFAULTS
from webapp.errors import InvalidRequest
from webapp.oidc import keys
from webapp.oidc.clients import check_redirect_uri, check_scopes, normalise_client_id
from webapp.settings import Settings, SettingsError

T0 = datetime(2026, 1, 1, 12, 0, 0)


def test_ring_file_is_created_once_and_rotation_retires_the_old_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = keys.ensure_ring(path, "ES256", T0)
    assert keys.ensure_ring(path, "ES256", T0 + timedelta(seconds=5)).current.kid == first.current.kid  # not regenerated
    ring = keys.rotate(path, "ES256", T0 + timedelta(seconds=10), retain_seconds=300)
    assert [k.kid for k in ring.keys] == [first.current.kid, ring.current.kid]
    assert ring.keys[0].retired_at == T0 + timedelta(seconds=10)
    published = {k.kid for k in ring.published(T0 + timedelta(seconds=309), 300)}
    assert published == {first.current.kid, ring.current.kid}
    assert {k.kid for k in ring.published(T0 + timedelta(seconds=311), 300)} == {ring.current.kid}
    # a later rotation drops keys retired longer ago than the retention
    third = keys.rotate(path, "RS256", T0 + timedelta(seconds=400), retain_seconds=300)
    assert [k.kid for k in third.keys] == [ring.current.kid, third.current.kid]
    assert third.current.alg == "RS256"
    assert keys.read_ring(path).current.kid == third.current.kid


def test_key_cache_sees_a_rotation_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    cache = keys.KeyCache(path, "ES256")
    before = cache.ring(T0).current.kid
    keys.rotate(path, "ES256", T0, retain_seconds=60)
    assert cache.ring(T0).current.kid != before


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/cb",  # plain http off the loopback host
        "ftp://example.com/cb",
        "/relative/cb",
        "https://example.com/cb#frag",
        "https://user:pw@example.com/cb",
        "javascript:alert(1)",
    ],
)
def test_bad_redirect_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidRequest):
        check_redirect_uri(uri)


def test_good_redirect_uris_are_kept_verbatim() -> None:
    for uri in ("https://grafana.example.com/login/generic_oauth", "http://127.0.0.1:5001/callback", "http://localhost/cb?x=1"):
        assert check_redirect_uri(uri) == uri


def test_scopes_and_client_ids() -> None:
    assert check_scopes(["email"]) == ["openid", "email"]
    assert check_scopes(["openid profile,email"]) == ["openid", "profile", "email"]
    with pytest.raises(InvalidRequest):
        check_scopes(["openid", "admin"])
    assert normalise_client_id(" Grafana ") == "grafana"
    with pytest.raises(InvalidRequest):
        normalise_client_id("no spaces please")


@pytest.mark.parametrize(
    ("key", "value"),
    [("OIDC_SIGNING_ALG", "HS256"), ("OIDC_ISSUER", "login.example.com"), ("OIDC_ISSUER", "https://x/?a=1"), ("OIDC_CODE_SECONDS", 0)],
)
def test_bad_oidc_settings_name_their_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=key):
        Settings.from_config({**DEFAULTS, key: value})


def test_oidc_defaults() -> None:
    cfg = Settings.from_config(DEFAULTS).oidc
    assert (cfg.signing_alg, cfg.code_seconds, cfg.access_token_seconds, cfg.id_token_seconds) == ("RS256", 60, 300, 300)
    assert cfg.issuer is None and cfg.key_file is None

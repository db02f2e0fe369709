"""The login page's markup: accessible prompts and controls, and its text catalogue
(webapp/texts/), which a deployment can translate with one file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import AppFactory
from webapp.settings import SettingsError
from webapp.web.texts import TEXTS_DIR, catalogue


def _page(app_factory: AppFactory, **config: object) -> str:
    return app_factory(**config).test_client().get("/login").get_data(as_text=True)


def _texts(html: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="texts">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_prompts_are_live_regions_and_controls_are_labelled(app_factory: AppFactory) -> None:
    html = _page(app_factory)
    assert re.search(r'id="prompt"[^>]*role="status"[^>]*aria-live="polite"', html)
    assert re.search(r'id="hint"[^>]*aria-live="polite"', html)
    assert re.search(r'<video id="video"[^>]*aria-label="Your camera preview"', html)
    assert re.search(r'<progress id="progress"[^>]*aria-label="Sign-in progress"', html)
    assert re.search(r'id="countdown"[^>]*role="timer"[^>]*aria-label=', html)
    assert 'id="cancel"' in html and 'id="camera-error"' in html and 'id="locked"' in html
    # The instructions come before the camera starts.
    assert html.index('class="instructions"') < html.index('id="start"')


def test_every_key_the_page_script_uses_is_in_the_catalogue(app_factory: AppFactory) -> None:
    texts = _texts(_page(app_factory))
    assert texts == catalogue("en")
    script = (TEXTS_DIR.parent / "static" / "js" / "login.js").read_text()
    used = {k for k in re.findall(r"\bt\('([a-z_.]+)'", script) if not k.endswith(".")}  # 'hint.' + code: below
    assert used and used <= set(texts), used - set(texts)
    from webapp.login.hints import ORDER
    from webapp.login.policy import _DENIED_PROMPTS

    assert {f"hint.{h}" for h in ORDER} <= set(texts)
    assert {f"denied.{r}" for r in _DENIED_PROMPTS} <= set(texts)
    for step in ("blink", "turn_left", "turn_right", "closer"):
        assert f"step.{step}" in texts


def test_a_deployment_file_overrides_some_texts(app_factory: AppFactory, tmp_path: Path) -> None:
    own = tmp_path / "texts.json"
    own.write_text(json.dumps({"title": "Anmelden mit Ihrem Gesicht", "hint.move_closer": "Kommen Sie näher."}), encoding="utf-8")
    html = _page(app_factory, UI_TEXTS_FILE=str(own), UI_LANGUAGE="de")
    texts = _texts(html)
    assert texts["title"] == "Anmelden mit Ihrem Gesicht" and texts["hint.move_closer"] == "Kommen Sie näher."
    assert texts["hint.too_dark"] == catalogue("en")["hint.too_dark"]  # untranslated keys fall back
    assert '<html lang="de">' in html and "<h1>Anmelden mit Ihrem Gesicht</h1>" in html


@pytest.mark.parametrize("content", ["not json", '["a list"]', '{"title": 3}'])
def test_a_broken_texts_file_stops_start_up(app_factory: AppFactory, tmp_path: Path, content: str) -> None:
    bad = tmp_path / f"bad-{abs(hash(content))}.json"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match="UI texts"):
        app_factory(UI_TEXTS_FILE=str(bad))


def test_a_bad_language_tag_stops_start_up(app_factory: AppFactory) -> None:
    with pytest.raises(SettingsError, match="UI_LANGUAGE"):
        app_factory(UI_LANGUAGE="../etc/passwd")

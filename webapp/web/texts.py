"""The pages' text catalogue: one JSON file of sentences per language (webapp/texts/), shared
by the server (which renders it into the page) and the page's JavaScript (which reads it from
there), so a deployment translates the sign-in by writing one file (UI_TEXTS_FILE).

The built-in English file holds every key; a language file or a deployment's own file only
overrides the keys it names, so a partial translation never shows a blank.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from webapp.config import PACKAGE_DIR
from webapp.settings import SettingsError, settings

TEXTS_DIR = PACKAGE_DIR / "texts"
FALLBACK = "en"


@cache
def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"UI texts: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise SettingsError(f"UI texts: {path} must be a JSON object of strings")
    return data


def catalogue(language: str, extra: Path | None = None) -> dict[str, str]:
    """English, overlaid with ``language``'s file when there is one, then with ``extra``."""
    texts = dict(_load(TEXTS_DIR / f"{FALLBACK}.json"))
    own = TEXTS_DIR / f"{language}.json"
    if language != FALLBACK and own.is_file():
        texts.update(_load(own))
    if extra is not None:
        texts.update(_load(extra))
    return texts


def page_texts() -> dict[str, str]:
    """The current app's catalogue (UI_LANGUAGE, UI_TEXTS_FILE)."""
    cfg = settings()
    return catalogue(cfg.ui_language, cfg.ui_texts_file)

"""Where a sign-in may send the browser next: only a path on this site.

The one check for every ``next`` parameter (open redirect). Browsers are lenient where a
check is strict: they drop tabs and newlines anywhere in a URL, read ``\\`` as ``/``, and take
``//host`` (or ``/\\host``) as another site, so ``/%09/evil.example/`` became ``//evil.example/``.
A target passes only if it is a plain absolute path: it starts with one ``/``, holds no control
character, whitespace or backslash, and parses with no scheme and no host.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

_MAX = 2048


def _plain_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def safe_next(target: object) -> str | None:
    """``target`` if it is a same-site relative path, else None. It must pass decoded once
    more too (``/%09/...``, ``/%2F/...``): a proxy or a second parser may decode it again."""
    if not isinstance(target, str) or not target or len(target) > _MAX:
        return None
    return target if _plain_path(target) and _plain_path(unquote(target)) else None


def next_or(target: object, fallback: str) -> str:
    """The safe ``target``, or ``fallback`` (a URL the app built itself)."""
    return safe_next(target) or fallback

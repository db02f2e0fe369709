"""The Content-Security-Policy every page gets, and the one widening a page may need.

Forms post only to us (``form-action 'self'``), and browsers apply ``form-action`` to the
redirect that follows a form, too. Two forms of the OpenID Connect provider end in a redirect to
a relying party: the consent decision (to the client's registered redirect URI, with the code)
and the logout confirmation (to its post-logout URI). Those pages, and only they, allow that one
origin, taken from the client's exact registered URI, never from the request.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.wrappers import Response

_DIRECTIVES = (
    "default-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "style-src 'self'",
    "script-src 'self'",
    "frame-ancestors 'none'",
    # No <base> may re-point our relative script URLs.
    "base-uri 'none'",
)


def content_security_policy(form_targets: tuple[str, ...] = ()) -> str:
    """Only our own scripts and styles; camera frames are blob: URLs; no one may frame us; forms
    post to us, plus the origins of ``form_targets`` (absolute URLs)."""
    origins = sorted({f"{u.scheme}://{u.netloc}" for u in map(urlsplit, form_targets) if u.scheme in ("http", "https") and u.netloc})
    return "; ".join((*_DIRECTIVES, " ".join(("form-action 'self'", *origins))))


def allow_form_redirect(resp: Response, *targets: str | None) -> Response:
    """Let this page's form end in a redirect to ``targets`` (registered client URIs)."""
    resp.headers["Content-Security-Policy"] = content_security_policy(tuple(t for t in targets if t))
    return resp

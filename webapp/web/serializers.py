"""One JSON shape per resource, used by the admin API and the admin pages alike."""

from __future__ import annotations

from typing import Any

from webapp.db.models import LoginAttempt, User
from webapp.login.hints import Guidance


def user_json(user: User, templates: int) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "templates": templates,
        "created_at": user.created_at.isoformat() + "Z",
    }


def attempt_json(a: LoginAttempt, frames: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attempt_id": a.public_id,
        "time": a.created_at.isoformat() + "Z",
        "finished_at": a.finished_at.isoformat() + "Z" if a.finished_at else None,
        "username": a.username,
        "known_user": a.user_id is not None,
        "client_addr": a.client_addr,
        "challenge": a.challenge,
        "state": a.state,
        "decision": a.state,
        "reason": a.reason,
        "detail": a.detail,
        "frames": a.frames_received,
        "scores": a.scores,
    }
    if frames:
        out["frame_log"] = [
            {
                "seq": f.seq,
                "client_seq": f.client_seq,
                "received_at": f.received_at.isoformat() + "Z",
                "faces": f.faces,
                "outcome": f.outcome,
                "signals": f.signals,
            }
            for f in a.frames
        ]
    return out


def guidance_json(g: Guidance | None) -> dict[str, Any]:
    """The sign-in guidance of a frame response (login/hints.py): codes and seconds, no score."""
    if g is None:
        return {"hints": [], "face_fits": False, "step_seconds_left": None, "missed_step": None}
    return {"hints": list(g.hints), "face_fits": g.face_fits, "step_seconds_left": g.step_seconds_left, "missed_step": g.missed_step}

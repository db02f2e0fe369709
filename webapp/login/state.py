"""The evolving analysis state of one login attempt, stored as JSON on the attempt row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from webapp.challenge.motion import MotionSummary, TimingStats


@dataclass(frozen=True)
class TrackPoint:
    """The last face frame's landmarks (0.1 px) and time, for face-track continuity."""

    pts: list[list[float]]
    t: float


@dataclass
class AttemptState:
    """Everything the decision needs, accumulated frame by frame.

    Kept small and JSON-serialisable: it is read and written on every frame, by whichever
    worker receives the frame.
    """

    face_frames: int = 0  # frames with exactly one usable face
    no_face_frames: int = 0
    # Neutral pose, collected over the first face frames (challenge baseline).
    baseline_ears: list[float] = field(default_factory=list)
    baseline_yaws: list[float] = field(default_factory=list)
    baseline_px: list[int] = field(default_factory=list)
    baseline_iods: list[float] = field(default_factory=list)
    step_index: int = 0  # index into the attempt's challenge list
    step_frames: int = 0  # face frames spent on the current step
    step_started_t: float | None = None  # server-clock second the current step began
    multi_face_since: float | None = None  # start of the current run of frames with several faces
    multi_face_frames: int = 0  # frames in that run
    step_progress: dict[str, Any] = field(default_factory=dict)
    steps_done: list[dict[str, Any]] = field(default_factory=list)  # {"step", "seq"}
    matched_frames: int = 0
    # Sparse identity encoding (webapp/login/identity.py): the CSPRNG-drawn face frame to encode,
    # encodings since the face track last broke, whether the last face frame was encoded, and
    # the policy's request to encode the next one (it grants only on an encoded frame).
    encode_at: int | None = None
    encodings: int = 0
    encoded_in_track: int = 0
    last_frame_encoded: bool = False
    encode_next: bool = False
    best_distance: float | None = None
    worst_distance: float | None = None
    live_scores: list[float] = field(default_factory=list)
    duplicate_frames: int = 0
    sha_seen: list[str] = field(default_factory=list)  # sha256 prefixes of this attempt's frames
    near_duplicates: int = 0  # re-encoded copies of earlier frames (webapp/replay/hashes.py)
    # Eye-opening history for the blink detector: the last few face frames, with their times.
    blink_ears: list[float] = field(default_factory=list)
    blink_times: list[float] = field(default_factory=list)
    # Planar-motion summary (webapp/challenge/motion.py) and the last face for track continuity.
    motion: MotionSummary | None = None
    track_prev: TrackPoint | None = None
    track_breaks: int = 0
    # The previous frame's one face box (original px; None unless exactly one face) and the
    # region searches since the last full pass (webapp/login/tracking.py).
    track_box: list[int] | None = None
    region_frames: int = 0
    # The context detector's box on the frames since the last face (challenge/bridge.py):
    # [left, top, right, bottom, t]; bridge_lost once a missed frame had no such box or the box
    # jumped. track_bridged counts reappearances accepted through a bridge (audit).
    bridge: list[float] | None = None
    bridge_lost: bool = False
    track_bridged: int = 0
    # The previous face frame's continuity signature (challenge/continuity.py) and the breaks seen.
    prev_signature: dict[str, Any] | None = None
    prev_signature_t: float = 0.0
    continuity_breaks: list[str] = field(default_factory=list)  # reason codes, one entry per break
    # Server-clock timing: gap statistics (audit) and frames sent before the previous answer.
    timing: TimingStats = field(default_factory=TimingStats)
    last_done_t: float = 0.0
    parallel_frames: int = 0
    # The screen-light plan (webapp/challenge/screenlight.py), drawn at start when the challenge
    # holds "screen_light": colours, durations, what was told when, and the frames' colours.
    light: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AttemptState:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["motion"] = MotionSummary.from_json(known.get("motion"))
        prev = known.get("track_prev")
        known["track_prev"] = TrackPoint(pts=prev["pts"], t=float(prev["t"])) if prev else None
        known["timing"] = TimingStats(**(known.get("timing") or {}))
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def live_mean(self) -> float | None:
        return sum(self.live_scores) / len(self.live_scores) if self.live_scores else None

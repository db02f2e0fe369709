"""Sparse identity encoding: which frames are encoded (login/identity.py) and the policy's
rules for frames without an encoding (never granted on, identity evidence asked for)."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import replace

from webapp.challenge.steps import FaceSignals
from webapp.login import policy as pol
from webapp.login.identity import draw_encode_at, needs_encoding
from webapp.login.state import AttemptState
from webapp.settings import EncodingSettings

POLICY = pol.Policy(live_threshold=0.5, live_min_frames=5, planarity=None, continuity=None)  # 5 live frames: short sequences
SPARSE = EncodingSettings(sparse=True, random_span=24)
_sha = (hashlib.sha256(f"enc{i}".encode()).hexdigest() for i in itertools.count())


def face(encoded: bool, distance: float = 0.3) -> pol.FrameFacts:
    return pol.FrameFacts(
        sha256=next(_sha),
        faces=1,
        distance=distance if encoded else None,
        encoded=encoded,
        live_score=0.9,
        signals=FaceSignals(ear=0.3, yaw=0.0, pitch=0.0, face_px=150),
    )


def play(state: AttemptState, encodings: EncodingSettings, n: int, distance: float = 0.3) -> list[pol.Verdict]:
    """``n`` face frames, each encoded exactly when ``needs_encoding`` says so (as the service does)."""
    out = []
    for seq in range(1, n + 1):
        f = face(needs_encoding(state, encodings), distance)
        verdict = pol.apply_frame(state, [], f, seq, POLICY)
        if verdict.state == "collecting":
            verdict = pol.decide(state, [], POLICY)
        out.append(verdict)
        if verdict.state != "collecting":
            break
    return out


def test_the_random_frame_is_drawn_after_the_baseline_within_the_span() -> None:
    draws = {draw_encode_at(3, 24) for _ in range(2000)}
    assert min(draws) >= 4 and max(draws) <= 27 and len(draws) > 20


def test_first_face_frame_and_the_drawn_frame_are_encoded_the_others_not() -> None:
    state = AttemptState(encode_at=5)
    assert needs_encoding(state, SPARSE)  # no encoding in this track yet
    state.encoded_in_track, state.face_frames = 1, 3
    assert not needs_encoding(state, SPARSE)
    state.face_frames = 4  # the next face frame is number 5
    assert needs_encoding(state, SPARSE)
    state.face_frames = 5
    assert not needs_encoding(state, SPARSE)
    state.encode_next = True
    assert needs_encoding(state, SPARSE)
    assert needs_encoding(AttemptState(encoded_in_track=3), replace(SPARSE, sparse=False))


def test_no_grant_on_a_frame_without_an_encoding_the_next_frame_is_encoded_and_decides() -> None:
    state = AttemptState(encode_at=10_000)
    verdicts = play(state, SPARSE, 20)
    assert verdicts[-1].state == "granted"
    assert state.last_frame_encoded
    # No challenge: frame 1 is encoded (first of the track), frames 2 and 3 because matched
    # frames were missing, frame 4 not; frame 5 completes the 5 live frames but is not encoded,
    # so the grant waits for frame 6, encoded.
    assert [v.state for v in verdicts] == ["collecting"] * 5 + ["granted"]
    assert (state.encodings, state.matched_frames) == (4, 4)


def test_an_unencoded_frame_never_counts_as_a_mismatch_or_a_match() -> None:
    state = AttemptState()
    assert pol.apply_frame(state, [], face(False), 1, POLICY).state == "collecting"
    assert (state.matched_frames, state.best_distance, state.last_frame_encoded) == (0, None, False)
    # An encoded frame of someone else is recorded; the decision (not the frame) denies it.
    assert pol.apply_frame(state, [], face(True, 0.8), 2, POLICY).state == "collecting"
    assert (state.worst_distance, pol.someone_else(state, POLICY)) == (0.8, True)


def test_a_track_break_forces_the_next_encoding() -> None:
    import numpy as np

    state = AttemptState(encode_at=10_000)
    pts = np.random.default_rng(1).uniform(100, 200, (68, 2))
    pts[36:48] = [[120 + i, 150] for i in range(12)]  # eyes apart enough for an IOD
    first = replace(face(True), landmarks=pts, t=0.0)
    pol.apply_frame(state, [], first, 1, POLICY)
    assert state.encoded_in_track == 1 and not needs_encoding(state, SPARSE)
    jumped = replace(face(False), landmarks=pts + 300.0, t=0.1)  # another face, far away, 0.1 s later
    pol.apply_frame(state, [], jumped, 2, POLICY)
    assert state.track_breaks == 1 and needs_encoding(state, SPARSE)


def test_the_face_after_a_gap_without_a_face_is_encoded_again() -> None:
    state = AttemptState()
    play(state, SPARSE, 6)
    assert state.encoded_in_track > 0
    assert not needs_encoding(replace(state, encode_at=None, encode_next=False), SPARSE)
    gap = pol.FrameFacts(sha256=next(_sha), faces=0, tracked_box=(100.0, 100.0, 200.0, 200.0))
    pol.apply_frame(state, [], gap, 7, POLICY)
    # Bridged or not, whoever reappears is identified on the next face frame.
    assert needs_encoding(replace(state, encode_at=None), SPARSE)

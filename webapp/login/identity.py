"""Which login frames get a 128-d identity encoding (sparse encoding).

The dlib descriptor costs about 110 ms of CPU per face with the installed dlib (no BLAS): 70 %
of a frame's analysis when every frame is encoded. Identity does not need every frame: it needs
to know *who* the tracked face is, and that it is still the same face. So a frame is encoded when

* it is the first face frame of an unbroken face track: the attempt's first face frame, and the
  first one after every track jump (``geometry.same_face_track``) or continuity break (scene,
  pose; ``challenge/continuity.py``), so a face swapped in where the track breaks is identified
  on the next frame;
* it is the one face frame drawn with a CSPRNG (:func:`draw_encode_at`) among the
  ``random_span`` face frames after the challenge baseline, so a swap that keeps the track
  intact cannot know which of the frames in between will be checked;
* the policy asked for it (``AttemptState.encode_next``): it grants only on an encoded frame,
  and asks for more encodings while the matched frames are too few. The last frame before a
  grant is therefore always encoded and matched.

Between encoded frames the face track binds the frames to the same person: a track jump or a
continuity break clears the step's half-done evidence (policy) and forces the next encoding.
The policy reads ``FrameFacts.encoded``; this module only decides, from the stored state,
whether the analysis computes the descriptor. With ``IDENTITY_SPARSE_ENCODING`` off every
face frame is encoded, as before.
"""

from __future__ import annotations

import secrets

from webapp.login.state import AttemptState
from webapp.settings import EncodingSettings


def draw_encode_at(baseline_frames: int, span: int) -> int:
    """The face-frame number (1-based, as ``AttemptState.face_frames`` counts) encoded at random:
    one of the ``span`` face frames right after the baseline, drawn with ``secrets``."""
    return baseline_frames + 1 + secrets.randbelow(max(1, span))


def needs_encoding(state: AttemptState, encoding: EncodingSettings) -> bool:
    """Should the next face frame of the attempt in ``state`` be encoded?"""
    if not encoding.sparse:
        return True
    if state.encode_next or state.encoded_in_track == 0:
        return True
    return state.encode_at is not None and state.face_frames + 1 == state.encode_at

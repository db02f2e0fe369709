"""Has this frame been seen before? Hashes (``hashes.py``) and the one place that decides it
(``seen.py``), handing the policy one :class:`ReplayFacts` per frame.

The policy counts what these facts report within the attempt (byte-identical repeats,
re-encoded copies) and decides; the lookups that need the database happen here, before it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplayFacts:
    """What the replay lookups found for one frame."""

    seen_in_other_attempt: bool = False  # byte-identical to a frame of another attempt
    near_duplicate: bool = False  # the same picture as an earlier frame (hashes.py), re-encoded

"""What a labelled face folder looks like, and what we know about each image in it.

A dataset is any directory holding ``live/`` and ``spoof/`` folders at any depth. The folder
just above a ``live``/``spoof`` pair is the *set* (one source: one camera, one session, a few
people). Attack *species* (the PAI species of ISO/IEC 30107-3) come from ``spoof/<species>/``
sub-folders when present, otherwise from :data:`PAD_SPECIES` for the shared sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
LIVE, SPOOF = 1, 0  # label = 1 means bona fide; every model outputs P(live)

# Attack type of the shared pad sets (../shared/datasets/README.md): NUAA and y45hk1r0l4 are
# hand-held prints, minivision's three samples mix print and screen, the rest are screen or
# phone replays of webcam video.
PAD_SPECIES: dict[str, str] = {
    "nuaa-train": "print",
    "y45hk1r0l4": "print",
    "minivision": "mixed",
}
DEFAULT_SPECIES = "replay"
UNKNOWN_SPECIES = "spoof"  # a spoof folder of an unknown set without species sub-folders

# Sets that share the same tutorial sample frames must sit in the same fold, or a model is
# validated on frames it trained on (datasets README, "Known traps").
SHARED_FRAME_SETS = ("saikan45", "dsourav", "diogoshiroma", "apfol", "jtboing", "shivamyadav", "neonipun")

# Leave-one-group-out folds over the shared pad sets. Each large set is its own fold; the
# tutorial-sharing sets form one; the tiny sets (<= 110 images each) are pooled so the fold
# count (and CPU time) stays sane. Per-set figures are still reported inside each fold.
PAD_FOLDS: dict[str, tuple[str, ...]] = {
    "tutorial": SHARED_FRAME_SETS,
    "print-frames": ("nuaa-train", "y45hk1r0l4"),
    "aksultan": ("aksultan",),
    "sivakumar": ("sivakumar",),
    "tranvanluyt": ("tranvanluyt",),
    "nuredinali": ("nuredinali",),
    "vishalkrishna": ("vishalkrishna",),
    "krzysiek": ("krzysiek",),
    "shubhamlala": ("shubhamlala",),
    "kraken000": ("kraken000",),
    "small": ("alexcamargo", "balveer", "jomariya", "manikantha", "minivision", "trickyf0x", "viguardieiro", "willydev"),
}


@dataclass(frozen=True)
class Sample:
    """One labelled image file."""

    path: Path
    label: int  # LIVE or SPOOF
    set_name: str
    species: str  # "bona_fide" for live images
    person: str  # identity label for Siamese pairs (set name where nothing finer is known)

    @property
    def is_live(self) -> bool:
        return self.label == LIVE


def fold_of(set_name: str) -> str:
    """The leave-one-group-out fold a set belongs to (its own name if not listed)."""
    for fold, members in PAD_FOLDS.items():
        if set_name in members:
            return fold
    return set_name


def person_of(set_name: str, path: Path) -> str:
    """Who is in the picture, as far as the data tells.

    NUAA file names start with a four-digit subject id (``0001_00_00_01_0.jpg``); the crop sets
    are one to six people from one session each, so the set stands for the person there.
    """
    if set_name == "nuaa-train":
        return f"{set_name}/{path.name[:4]}"
    return set_name


def session_of(set_name: str, path: Path) -> str:
    """The capture session of an image where the data names it ("" otherwise).

    NUAA file names are ``<subject>_<glasses>_<?>_<session>_<frame>``: most subjects have live
    frames from two sessions, which lets the Siamese evaluation enroll from one session and
    score the other (the crop sets are one session each).
    """
    if set_name == "nuaa-train":
        parts = path.stem.split("_")
        return parts[3] if len(parts) >= 5 else ""
    return ""


def walk(root: Path) -> list[Path]:
    """Every path below ``root``, following symlinked folders (datasets are often linked in)."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        base = Path(dirpath)
        out.extend(base / d for d in dirnames)
        out.extend(base / f for f in filenames)
    return out


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in walk(folder) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _species_for(set_name: str, spoof_dir: Path, image: Path) -> str:
    rel = image.relative_to(spoof_dir)
    if len(rel.parts) > 1:
        return rel.parts[0]  # spoof/<species>/... names the species explicitly
    if set_name in PAD_SPECIES:
        return PAD_SPECIES[set_name]
    return DEFAULT_SPECIES if set_name in _KNOWN_PAD_SETS else UNKNOWN_SPECIES


_KNOWN_PAD_SETS = frozenset(s for members in PAD_FOLDS.values() for s in members)


def scan(root: Path) -> list[Sample]:
    """Every image under a ``live``/``spoof`` folder below ``root``, sorted by path.

    The set of an image is the path of its ``live``/``spoof`` folder's parent relative to
    ``root`` (``"."`` becomes the name of ``root`` itself).
    """
    root = Path(root)
    samples: list[Sample] = []
    class_dirs = sorted({p for p in walk(root) if p.is_dir() and p.name in ("live", "spoof")})
    if root.name in ("live", "spoof"):
        class_dirs = [root]
    for class_dir in class_dirs:
        # A live/spoof folder nested inside another one (spoof/live/...) belongs to the outer one.
        if any(parent.name in ("live", "spoof") for parent in class_dir.relative_to(root).parents if parent != Path(".")):
            continue
        rel_parent = class_dir.parent.relative_to(root) if class_dir != root else Path(".")
        set_name = root.resolve().name if str(rel_parent) == "." else rel_parent.as_posix()
        label = LIVE if class_dir.name == "live" else SPOOF
        for image in _images_under(class_dir):
            species = "bona_fide" if label == LIVE else _species_for(set_name, class_dir, image)
            samples.append(Sample(image, label, set_name, species, person_of(set_name, image)))
    samples.sort(key=lambda s: str(s.path))
    return samples
